import { storableText } from '../../common/text.js';
import { Errors } from '../../common/errors.js';

/**
 * Slash-separated JSON pointers as Ditto uses them. Ditto only escapes `~` (as `~0`): its keys
 * can never contain `/`, so `~1` carries no meaning there and is left as it is.
 */

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own properties only, so keys like `constructor` or `__proto__` never reach the prototype. */
export function hasKey(obj: JsonObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/**
 * A plain assignment would run the `__proto__` setter instead of storing the key, the one
 * accessor plain objects inherit; any other key is assigned (defining it costs far more).
 */
export function putKey(obj: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** `'a/b'`, `'/a/b'` → `['a', 'b']`; `''` and `'/'` → `[]`. */
export function parsePointer(path: string): string[] {
  if (path === '' || path === '/') return [];
  const body = path.startsWith('/') ? path.slice(1) : path;
  const segments = body.split('/');
  // A key PostgreSQL cannot store (NUL, lone surrogate) is as invalid as an empty one.
  if (segments.some((s) => s === '' || !storableText(s))) throw Errors.pointerInvalid(path);
  return segments.map((s) => s.replaceAll('~0', '~'));
}

export function toPointer(segments: readonly string[]): string {
  if (segments.length === 0) return '/';
  const joined = segments.join('/');
  return joined.includes('~') ? '/' + segments.map((s) => s.replaceAll('~', '~0')).join('/') : '/' + joined;
}

/** The value at the path, or undefined when any step is missing or not an object. */
export function getAt(root: unknown, segments: readonly string[]): unknown {
  let node = root;
  for (const key of segments) {
    if (!isJsonObject(node) || !hasKey(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * A new root with `value` at the path. Objects along the path are copied (the rest is shared);
 * missing or non-object steps become objects, as a PUT on a deep path does in Ditto.
 */
export function setAt(root: unknown, segments: readonly string[], value: unknown): unknown {
  if (segments.length === 0) return value;
  const [key, ...rest] = segments;
  const obj = isJsonObject(root) ? root : {};
  const copy: JsonObject = { ...obj };
  putKey(copy, key, setAt(hasKey(obj, key) ? obj[key] : undefined, rest, value));
  return copy;
}

/** A new root without the value at the path; the same root when there was nothing to delete. */
export function deleteAt(root: unknown, segments: readonly string[]): { root: unknown; existed: boolean } {
  if (segments.length === 0) return { root: undefined, existed: root !== undefined };
  if (!isJsonObject(root)) return { root, existed: false };
  const [key, ...rest] = segments;
  if (!hasKey(root, key)) return { root, existed: false };
  if (rest.length === 0) {
    const copy: JsonObject = { ...root };
    delete copy[key];
    return { root: copy, existed: true };
  }
  const inner = deleteAt(root[key], rest);
  if (!inner.existed) return { root, existed: false };
  const copy: JsonObject = { ...root };
  putKey(copy, key, inner.root);
  return { root: copy, existed: true };
}
