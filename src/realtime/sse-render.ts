import { selectFields } from '../twins/model/fields.js';
import { getAt, type JsonObject } from '../twins/model/json-pointer.js';
import { regularFields } from '../twins/model/thing-fields.js';
import type { FieldSelector } from '../twins/thing-view.js';
import { eventContext, type TwinEvent } from './twin-event.js';

const POLICY_FIELDS = ['policyId', 'imports', 'entries'];

/**
 * Ditto's SSE payload: the thing from the event (with extra fields), selected, non-empty. As in
 * Ditto, `_context` is added only to an event whose thing fields selected something. Without
 * `fields`, `_metadata` is there when `extraFields` asked for it.
 */
export function renderSse(
  ev: TwinEvent,
  thing: JsonObject,
  fields: FieldSelector | undefined,
  pointer: string[],
  extra: JsonObject | undefined,
): string | undefined {
  let json = fields ? selectFields(thing, fields) : regularFields(thing);
  if (!fields && extra?._metadata !== undefined && Object.keys(json).length > 0) {
    json = { ...json, _metadata: extra._metadata };
  }
  if (Object.keys(json).length === 0) return undefined;
  if (fields && pointer.length === 0 && selectsContext(fields)) {
    json = selectFields({ ...thing, _context: eventContext(ev) }, fields);
  }
  const value = pointer.length > 0 ? getAt(json, pointer) : json;
  if (value === undefined) return undefined;
  return `data:${JSON.stringify(value)}\nid:${ev.entry.seq}\n\n`;
}

/** Whether `fields` asks for Ditto's `_context` (or part of it) of each event. */
function selectsContext(fields: FieldSelector): boolean {
  return fields.pointers.some((p) => p[0] === '_context');
}

/** A policy change as Policy JSON: its id and what changed, at its place in the policy. */
export function renderPolicySse(ev: TwinEvent, policy: JsonObject): string {
  const json: JsonObject = {};
  for (const k of POLICY_FIELDS) if (policy[k] !== undefined) json[k] = policy[k];
  return `data:${JSON.stringify(json)}\nid:${ev.entry.seq}\n\n`;
}
