import { isDeepStrictEqual } from 'node:util';
import type { JournalAction, JournalEntry } from '../journal/journal.types.js';
import { deleteAt, isJsonObject, parsePointer, setAt } from '../twins/model/json-pointer.js';
import { mergePatch, mergePatchAt } from '../twins/model/merge-patch.js';
import { parseThingEventTopic } from '../protocol/events.js';

/**
 * The mapping between our journal and Ditto's twin API, and the bits of thing algebra the
 * reconcile needs. Pure, so every rule is unit-tested without a server.
 */

/** One HTTP request to Ditto: the verb and the path under /api/2/things/{thingId}. */
export interface WireOp {
  verb: 'PUT' | 'PATCH' | 'DELETE';
  thingId: string;
  /** Path segments inside the thing; [] is the thing itself. */
  path: string[];
  body?: unknown;
}

/** A change as Ditto reports it in a twin event (topic, path, value of the protocol envelope). */
export interface DittoEvent {
  thingId: string;
  action: JournalAction;
  path: string[];
  value?: unknown;
  correlationId?: string;
}

export type ThingJson = Record<string, unknown>;

/** Correlation ids of the requests the sync sends, so their events are recognised as echoes. */
export const SYNC_CORRELATION_PREFIX = 'twin-platform-sync:';

export function correlationIdFor(entry: Pick<JournalEntry, 'thingId' | 'revision'>): string {
  return `${SYNC_CORRELATION_PREFIX}${entry.thingId}:${entry.revision}`;
}

export function isEcho(correlationId: string | undefined): boolean {
  return correlationId?.startsWith(SYNC_CORRELATION_PREFIX) === true;
}

/** The Ditto request that repeats a local change: same path, PUT/PATCH/DELETE as the action says. */
export function toWireOp(entry: Pick<JournalEntry, 'thingId' | 'action' | 'path' | 'value'>): WireOp {
  const path = parsePointer(entry.path);
  switch (entry.action) {
    case 'deleted':
      return { verb: 'DELETE', thingId: entry.thingId, path };
    case 'merged':
      return { verb: 'PATCH', thingId: entry.thingId, path, body: entry.value };
    case 'created':
    case 'modified':
      return { verb: 'PUT', thingId: entry.thingId, path, body: entry.value };
  }
}

/** Whether the request carries a whole thing, which Ditto's API wants with its thingId and policyId. */
export function needsIdentity(op: WireOp): boolean {
  if (op.path.length > 0 || op.verb === 'DELETE') return false;
  return (
    !isJsonObject(op.body) || typeof op.body.thingId !== 'string' || typeof op.body.policyId !== 'string'
  );
}

/**
 * Adds thingId and policyId to a whole-thing body that lacks them. Ditto's API requires both in a
 * PUT (NewThing) and in a merge patch of the thing (PatchThing); being what the thing already
 * has, they change nothing.
 */
export function withIdentity(op: WireOp, policyId: string): WireOp {
  const body = isJsonObject(op.body) ? op.body : {};
  return { ...op, body: { thingId: op.thingId, policyId, ...body } };
}

/** Parses a Ditto protocol topic `{namespace}/{name}/things/twin/events/{action}` (protocol/events.ts). */
export function parseEventTopic(topic: string): { thingId: string; action: JournalAction } | null {
  return parseThingEventTopic(topic);
}

/** Applies one change to a thing document; null is "no thing". Tolerant where replay must be. */
export function applyChange(
  doc: ThingJson | null,
  change: { action: JournalAction; path: string[]; value?: unknown },
): ThingJson | null {
  const { action, path, value } = change;
  if (path.length === 0) {
    if (action === 'deleted') return null;
    if (action === 'merged') return mergePatch(doc ?? {}, value) as ThingJson;
    return isJsonObject(value) ? { ...value } : doc;
  }
  if (doc === null) return null;
  if (action === 'deleted') return deleteAt(doc, path).root as ThingJson;
  if (action === 'merged') return mergePatchAt(doc, path, value) as ThingJson;
  return setAt(doc, path, value) as ThingJson;
}

const CONTENT_FIELDS = ['thingId', 'policyId', 'definition', 'attributes', 'features'] as const;

/** The part of a thing both sides must agree on: no system fields such as _revision. */
export function content(thing: Record<string, unknown> | null | undefined): ThingJson | null {
  if (!thing) return null;
  const out: ThingJson = {};
  for (const key of CONTENT_FIELDS) if (thing[key] !== undefined) out[key] = thing[key];
  return out;
}

/** Deep equality of JSON values, blind to key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** Two changes overlap when one path contains the other ([] is the whole thing). */
export function overlaps(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function namespaceOf(thingId: string): string {
  return thingId.slice(0, thingId.indexOf(':'));
}

/** DITTO_NAMESPACES as a predicate; an empty list syncs every namespace. */
export function namespaceFilter(list: string): (thingId: string) => boolean {
  const set = new Set(
    list
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return set.size === 0 ? () => true : (thingId) => set.has(namespaceOf(thingId));
}
