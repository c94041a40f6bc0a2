import type { JsonObject } from './json-pointer.js';

/** A Thing's regular fields in Ditto's order; jsonb keeps keys its own way, so views restore it. */
export const THING_FIELDS = ['thingId', 'policyId', 'definition', 'attributes', 'features'] as const;

/** The regular fields of `doc` that are set, in Ditto's order (system and other keys left out). */
export function regularFields(doc: { readonly [K in (typeof THING_FIELDS)[number]]?: unknown }): JsonObject {
  const out: JsonObject = {};
  for (const k of THING_FIELDS) if (doc[k] !== undefined) out[k] = doc[k];
  return out;
}
