import { createHash } from 'node:crypto';

/**
 * Ditto's entity tags: the entity itself is `"rev:N"`, a sub-resource `"hash:<hash>"` of its
 * canonical JSON (keys sorted at every level), so the tag of a value is the same whether it was
 * read back from jsonb (which reorders keys) or is the value as a client wrote it.
 */
export function entityTag(revision: number, path: readonly string[], value: unknown): string {
  if (path.length === 0) return `"rev:${revision}"`;
  const hash = createHash('sha1').update(canonicalJson(value)).digest('hex').slice(0, 16);
  return `"hash:${hash}"`;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    const obj = value as Record<string, unknown>;
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
