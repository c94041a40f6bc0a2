import { isJsonObject } from '../twins/model/json-pointer.js';

/**
 * Ditto's header names are case-insensitive: every envelope's and request's headers are read
 * through this, lower-cased, values as strings (non-string JSON values serialised).
 */
export function lowerCaseHeaders(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isJsonObject(raw)) return out;
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || v === null) continue;
    out[k.toLowerCase()] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/** A header by name, whatever its case in `headers`. */
export function headerOf(headers: Record<string, unknown>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== wanted || v === undefined || v === null) continue;
    return typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : JSON.stringify(v);
  }
  return undefined;
}
