import { createHash } from 'node:crypto';
import { PolicyErrors } from '../common/errors.js';

/**
 * Ditto's entity tags for policies: the policy is `"rev:N"`, a sub-resource `"hash:<hash>"` of
 * its canonical JSON (keys sorted), so a stored document's key order never changes its tag.
 */
export function policyTag(revision: number, path: readonly string[], value: unknown): string {
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

export interface Preconditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

export interface TagState {
  exists: boolean;
  /** The policy's `"rev:N"` when the policy exists: any write may be conditioned on it. */
  policyTag?: string;
  resourceTag?: string;
}

function parseTags(header: string): string[] | '*' {
  const trimmed = header.trim();
  if (trimmed === '*') return '*';
  return trimmed
    .split(',')
    .map((t) => t.trim())
    .map((t) => (t.startsWith('W/') ? t.slice(2) : t))
    .filter((t) => t.length > 0);
}

function matches(tags: string[] | '*', s: TagState): boolean {
  if (tags === '*') return s.exists;
  return tags.some((t) => t === s.policyTag || (s.exists && t === s.resourceTag));
}

/** RFC 7232 as Ditto applies it: 412 for writes, 304 for a read whose If-None-Match matches. */
export function checkPolicyPreconditions(s: TagState, pre: Preconditions, read = false): void {
  if (pre.ifMatch !== undefined && !matches(parseTags(pre.ifMatch), s))
    throw PolicyErrors.preconditionFailed('if-match', pre.ifMatch);
  if (pre.ifNoneMatch !== undefined && matches(parseTags(pre.ifNoneMatch), s)) {
    if (read)
      throw PolicyErrors.notModified('if-none-match', pre.ifNoneMatch, s.resourceTag ?? s.policyTag ?? '');
    throw PolicyErrors.preconditionFailed('if-none-match', pre.ifNoneMatch);
  }
}
