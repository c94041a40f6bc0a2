import { isJsonObject, setAt, toPointer } from './model/json-pointer.js';

/**
 * Per-leaf source timestamps: pointer → ISO time of the value now stored there. They let a
 * late reading (older device time) land in history without overwriting a newer value, and
 * they are what `fields=_metadata` shows, in Ditto's shape (`{features:{f:{properties:{p:{ts}}}}}`).
 */
export type LeafTimes = Record<string, string>;

/** Pointers of the leaves a value writes when put at `path` (an empty object is a leaf too). */
export function leaves(path: readonly string[], value: unknown, out: string[] = []): string[] {
  if (isJsonObject(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leaves([...path, k], v, out);
  } else {
    out.push(toPointer(path));
  }
  return out;
}

function isUnder(pointer: string, prefix: string): boolean {
  return prefix === '/' || pointer === prefix || pointer.startsWith(prefix + '/');
}

/** The newest time recorded at the pointer or any of its ancestors (a whole-object write covers its leaves). */
function recordedAt(meta: LeafTimes, pointer: string): string | undefined {
  let newest: string | undefined;
  for (const [p, ts] of Object.entries(meta)) {
    if ((isUnder(pointer, p) || p === pointer) && (newest === undefined || ts > newest)) newest = ts;
  }
  return newest;
}

/**
 * Drops from a merge patch every leaf whose stored value is newer than the time the patch
 * carries for it. Returns undefined when nothing is left to apply.
 */
export function dropStaleLeaves(
  path: readonly string[],
  patch: unknown,
  timeOf: (pointer: string) => string,
  meta: LeafTimes,
): unknown {
  const keep = (segments: string[], value: unknown): unknown => {
    if (isJsonObject(value) && Object.keys(value).length > 0) {
      const kept: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const r = keep([...segments, k], v);
        if (r !== undefined) kept[k] = r;
      }
      return Object.keys(kept).length > 0 ? kept : undefined;
    }
    const pointer = toPointer(segments);
    const stored = recordedAt(meta, pointer);
    return stored !== undefined && stored > timeOf(pointer) ? undefined : value;
  };
  return keep([...path], patch);
}

/**
 * The leaf times after a write at `path`: what was under the path is replaced (modify, delete)
 * or merged (merge: only the written leaves change; null leaves are deletions).
 */
export function nextLeafTimes(
  meta: LeafTimes,
  kind: 'replace' | 'merge' | 'delete',
  path: readonly string[],
  value: unknown,
  timeOf: (pointer: string) => string,
): LeafTimes {
  const prefix = toPointer(path);
  const next: LeafTimes = {};
  for (const [p, ts] of Object.entries(meta)) if (kind === 'merge' || !isUnder(p, prefix)) next[p] = ts;
  if (kind === 'delete') return next;
  for (const leaf of leaves(path, value)) {
    for (const p of Object.keys(next)) if (isUnder(p, leaf)) delete next[p];
    // Only data carries source times; thingId, policyId and definition are not measurements.
    if (!leaf.startsWith('/attributes') && !leaf.startsWith('/features')) continue;
    if (!(kind === 'merge' && valueAt(path, value, leaf) === null)) next[leaf] = timeOf(leaf);
  }
  return next;
}

function valueAt(path: readonly string[], value: unknown, leaf: string): unknown {
  const rel = leaf.slice(toPointer(path) === '/' ? 1 : toPointer(path).length + 1);
  if (rel === '') return value;
  let v: unknown = value;
  for (const k of rel.split('/')) v = isJsonObject(v) ? v[k] : undefined;
  return v;
}

/** `_metadata` in Ditto's shape: the thing's structure with `{ts}` at each timed leaf. */
export function metadataView(meta: LeafTimes): Record<string, unknown> {
  let out: unknown = {};
  for (const [pointer, ts] of Object.entries(meta).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const segments = pointer === '/' ? [] : pointer.slice(1).split('/');
    out = setAt(out, segments, { ts });
  }
  return out as Record<string, unknown>;
}
