import { RE2JS } from 're2js';
import { DomainError } from '../../common/domain-error.js';
import { deleteAt, getAt, hasKey, isJsonObject, putKey, setAt, type JsonObject } from './json-pointer.js';

/**
 * RFC 7396 JSON Merge Patch with Ditto's regex-deletion extension. The result shares
 * untouched parts with `target`; neither argument is modified.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  const plainKeys: string[] = [];
  for (const key of Object.keys(patch)) {
    const regex = patch[key] === null ? regexOf(key) : undefined;
    if (regex) {
      // Ditto applies the regex deletions first, so keys named in the same patch survive them.
      for (const existing of Object.keys(result)) if (regex.test(existing)) delete result[existing];
    } else {
      plainKeys.push(key);
    }
  }
  for (const key of plainKeys) {
    const value = patch[key];
    if (value === null) {
      delete result[key];
    } else {
      putKey(result, key, mergePatch(hasKey(result, key) ? result[key] : undefined, value));
    }
  }
  return result;
}

/**
 * Applies a merge patch to the value at a sub-path, as PATCH on a sub-resource does: the path
 * is created when absent, and a null patch deletes it.
 */
export function mergePatchAt(root: unknown, segments: readonly string[], patch: unknown): unknown {
  if (segments.length === 0) return mergePatch(root, patch);
  if (patch === null) return deleteAt(root, segments).root;
  return setAt(root, segments, mergePatch(getAt(root, segments), patch));
}

/**
 * Ditto's extension key `{{ ~regex~ }}: null` deletes the keys at that level the regex matches.
 * The regex is the client's, so it runs on RE2 (linear time, no backtracking); the few Java regex
 * features RE2 lacks (backreferences, lookaround) are refused as invalid.
 */
function regexOf(key: string): { test(s: string): boolean } | undefined {
  const body = regexKeyBody(key);
  if (body === undefined) return undefined;
  try {
    const re = RE2JS.compile(body);
    // Java's Matcher.matches(), which Ditto uses, needs the whole key to match.
    return { test: (s) => re.matches(s) };
  } catch (err) {
    throw new DomainError(
      400,
      'things:merge.invalid',
      `The merge patch key <${key.slice(0, 200)}> does not contain a valid regular expression: ${(err as Error).message}`,
      'Use {{ ~<regex>~ }} with a valid regular expression, e.g. {{ ~^temp-.*~ }}.',
    );
  }
}

/** What stands between `{{ ~` and `~ }}` (spaces optional), parsed by hand: keys are the client's. */
function regexKeyBody(key: string): string | undefined {
  if (!key.startsWith('{{') || !key.endsWith('}}')) return undefined;
  const inner = key.slice(2, -2).trim();
  if (inner.length < 2 || !inner.startsWith('~') || !inner.endsWith('~')) return undefined;
  return inner.slice(1, -1);
}
