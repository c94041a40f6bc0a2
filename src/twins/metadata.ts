import { getAt, isJsonObject, parsePointer, putKey, setAt, toPointer } from './model/json-pointer.js';

/**
 * Per-leaf source timestamps: pointer → ISO time of the value now stored there. They let a
 * late reading (older device time) land in history without overwriting a newer value, and
 * they are what `fields=_metadata` shows, in Ditto's shape (`{features:{f:{properties:{p:{ts}}}}}`).
 */
export type LeafTimes = Record<string, string>;

/** The pointer of `key` under `pointer` (`~` escaped as `~0`). */
function child(pointer: string, key: string): string {
  const k = key.includes('~') ? key.replaceAll('~', '~0') : key;
  return pointer === '/' ? `/${k}` : `${pointer}/${k}`;
}

/** The leaves a value writes at `pointer`, with their values (an empty object is a leaf too). */
function leafEntries(pointer: string, value: unknown, out: [string, unknown][]): [string, unknown][] {
  if (isJsonObject(value)) {
    const keys = Object.keys(value);
    if (keys.length > 0) {
      for (const k of keys) leafEntries(child(pointer, k), value[k], out);
      return out;
    }
  }
  out.push([pointer, value]);
  return out;
}

function isUnder(pointer: string, prefix: string): boolean {
  return prefix === '/' || pointer === prefix || pointer.startsWith(prefix + '/');
}

/**
 * The newest time recorded at the pointer or any of its ancestors (a whole-object write covers
 * its leaves). Looks up each ancestor rather than scanning every entry: a thing of many
 * properties is merged into on every reading.
 */
function recordedAt(meta: LeafTimes, pointer: string): string | undefined {
  let newest: string | undefined = meta['/'];
  const consider = (at: string) => {
    const ts = Object.prototype.hasOwnProperty.call(meta, at) ? meta[at] : undefined;
    if (ts !== undefined && (newest === undefined || ts > newest)) newest = ts;
  };
  for (let i = pointer.indexOf('/', 1); i !== -1; i = pointer.indexOf('/', i + 1))
    consider(pointer.slice(0, i));
  if (pointer !== '/') consider(pointer);
  return newest;
}

/** Whether the pointer is at or below one of the given pointers. */
function coveredBy(pointer: string, tops: ReadonlySet<string>): boolean {
  if (tops.has('/') || tops.has(pointer)) return true;
  for (let i = pointer.indexOf('/', 1); i !== -1; i = pointer.indexOf('/', i + 1)) {
    if (tops.has(pointer.slice(0, i))) return true;
  }
  return false;
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
  const keep = (pointer: string, value: unknown): unknown => {
    if (isJsonObject(value)) {
      const keys = Object.keys(value);
      if (keys.length > 0) {
        const kept: Record<string, unknown> = {};
        let any = false;
        for (const k of keys) {
          const r = keep(child(pointer, k), value[k]);
          if (r === undefined) continue;
          putKey(kept, k, r);
          any = true;
        }
        return any ? kept : undefined;
      }
    }
    const stored = recordedAt(meta, pointer);
    return stored !== undefined && stored > timeOf(pointer) ? undefined : value;
  };
  return keep(toPointer(path), patch);
}

/**
 * The leaf times after a write at `path`: what was under the path is replaced (modify, delete)
 * or merged (merge: only the written leaves change; null leaves are deletions). The times this
 * write sets are also put in `out` when given (what the journal records of the change).
 */
export function nextLeafTimes(
  meta: LeafTimes,
  kind: 'replace' | 'merge' | 'delete',
  path: readonly string[],
  value: unknown,
  timeOf: (pointer: string) => string | undefined,
  out?: LeafTimes,
): LeafTimes {
  const prefix = toPointer(path);
  const next: LeafTimes = {};
  for (const [p, ts] of Object.entries(meta)) if (kind === 'merge' || !isUnder(p, prefix)) next[p] = ts;
  if (kind === 'delete') return next;
  const written = leafEntries(prefix, value, []);
  // A written leaf replaces whatever was recorded at or below it. The leaves of one value are
  // never below one another, so all can be cleared first and then set.
  const tops = new Set(written.map(([leaf]) => leaf));
  for (const p of Object.keys(next)) if (coveredBy(p, tops)) delete next[p];
  for (const [leaf, v] of written) {
    // Only data carries source times; thingId, policyId and definition are not measurements.
    if (!leaf.startsWith('/attributes') && !leaf.startsWith('/features')) continue;
    if (kind === 'merge' && v === null) continue;
    const ts = timeOf(leaf);
    // Undefined only in a replay of a change journaled without times: the leaf's time is unknown.
    if (ts === undefined) continue;
    next[leaf] = ts;
    if (out) out[leaf] = ts;
  }
  return next;
}

/**
 * The leaf times after a journaled change, from those before it and the times the change wrote
 * (what nextLeafTimes put in `written`). Replaying every change of a thing this way gives the
 * times the thing had at each revision; a change journaled without times leaves its leaves
 * without one.
 */
export function replayLeafTimes(
  meta: LeafTimes,
  action: 'created' | 'modified' | 'merged' | 'deleted',
  path: readonly string[],
  value: unknown,
  written: LeafTimes | undefined,
): LeafTimes {
  if (action === 'deleted' && path.length === 0) return {};
  const kind = action === 'deleted' ? 'delete' : action === 'merged' ? 'merge' : 'replace';
  return nextLeafTimes(meta, kind, path, value, (p) => written?.[p]);
}

/**
 * The times of those leaves that are present in `value`, the value at `path` (e.g. an event's value
 * once cut to what a subscriber may read): no time of a leaf the subscriber may not see.
 */
export function leafTimesWithin(times: LeafTimes, path: readonly string[], value: unknown): LeafTimes {
  const out: LeafTimes = {};
  for (const [pointer, ts] of Object.entries(times)) {
    const segments = pointer === '/' ? [] : parsePointer(pointer);
    if (segments.length < path.length || path.some((s, i) => segments[i] !== s)) continue;
    if (getAt(value, segments.slice(path.length)) !== undefined) out[pointer] = ts;
  }
  return out;
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
