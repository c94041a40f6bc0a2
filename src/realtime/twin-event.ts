import type { JournalEntry } from '../journal/journal.types.js';
import { isJsonObject, parsePointer, putKey, setAt, type JsonObject } from '../twins/model/json-pointer.js';
import type { PropertyPlaceholder } from '../twins/search/index.js';
import { regularFields } from '../twins/model/thing-fields.js';
import { eventPlaceholders } from './event-filter.js';
import { eventTopic } from '../protocol/events.js';
import { metadataView } from '../twins/metadata.js';

/**
 * A journal entry seen as a Ditto twin event. Everything here is derived once per entry and shared
 * by every session that receives it: above all the serialised envelope, so fan-out to N sessions
 * costs one JSON.stringify, not N.
 */
export interface TwinEvent {
  entry: JournalEntry;
  namespace: string;
  name: string;
  /** `<ns>/<name>/things/twin/events/<action>`, or `<ns>/<name>/policies/events/<action>` */
  topic: string;
  segments: string[];
  /** What the event carries as `value`; undefined for deletions. */
  value: unknown;
  /** The envelope's Ditto headers (shared: never modify). */
  headers: Readonly<Record<string, unknown>>;
  /** The Ditto Protocol envelope, serialised, and encoded once for every socket. */
  wire: string;
  wireBuffer: Buffer;
  wireBytes: number;
  placeholder: (name: PropertyPlaceholder) => string;
}

const events = new WeakMap<JournalEntry, TwinEvent>();
const things = new WeakMap<TwinEvent, JsonObject>();

export function twinEvent(entry: JournalEntry): TwinEvent {
  let ev = events.get(entry);
  if (!ev) {
    ev = build(entry);
    events.set(entry, ev);
  }
  return ev;
}

/** An event of an entry made up for one subscriber (a cut value): built anew, not memoised. */
export function twinEventOf(entry: JournalEntry): TwinEvent {
  return build(entry);
}

function build(entry: JournalEntry): TwinEvent {
  const colon = entry.thingId.indexOf(':');
  const namespace = entry.thingId.slice(0, colon);
  const name = entry.thingId.slice(colon + 1);
  const topic = eventTopic(entry.thingId, entry.entity === 'policy' ? 'policy' : 'thing', entry.action);
  const segments = parsePointer(entry.path);
  const value = eventValue(entry, segments);
  const headers = {
    'correlation-id': entry.correlationId ?? `journal-${entry.seq}`,
    'event-id': entry.seq,
    'content-type': entry.action === 'merged' ? 'application/merge-patch+json' : 'application/json',
    'response-required': false,
    'requested-acks': [],
  };
  const envelope: Record<string, unknown> = { topic, headers, path: entry.path };
  if (value !== undefined) envelope.value = value;
  envelope.revision = entry.revision;
  envelope.timestamp = entry.timestamp;
  const wire = JSON.stringify(envelope);
  const wireBuffer = Buffer.from(wire);
  return {
    entry,
    namespace,
    name,
    topic,
    segments,
    value,
    headers,
    wire,
    wireBuffer,
    wireBytes: wireBuffer.length,
    placeholder: eventPlaceholders({ namespace, name, action: entry.action, full: topic }, entry.path),
  };
}

/**
 * A created or modified whole thing is journaled as the stored Thing; jsonb keeps object keys
 * sorted by length, so its fields are put back in Ditto's order. Everything else is the journal
 * value as recorded.
 */
function eventValue(entry: JournalEntry, segments: string[]): unknown {
  if (entry.action === 'deleted') return undefined;
  if (entry.entity === 'policy') return entry.value;
  if (segments.length > 0 || entry.action === 'merged' || !isJsonObject(entry.value)) return entry.value;
  return regularFields(entry.value);
}

/**
 * The thing as far as the event describes it, as Ditto builds it to apply filters and to render
 * SSE: thingId, revision and modification time, and the changed part at its path (a merge patch
 * without its nulls, nothing for a deletion), with `_metadata`: the source times of the leaves
 * the change wrote, in Ditto's shape, when the journal has them.
 */
export function eventThing(ev: TwinEvent): JsonObject {
  let thing = things.get(ev);
  if (!thing) {
    thing = ev.entry.entity === 'policy' ? { policyId: ev.entry.thingId } : { thingId: ev.entry.thingId };
    if (ev.value !== undefined) {
      const value = ev.entry.action === 'merged' ? withoutNulls(ev.value) : ev.value;
      if (ev.segments.length === 0) {
        if (isJsonObject(value)) for (const [k, v] of Object.entries(value)) putKey(thing, k, v);
      } else {
        thing = setAt(thing, ev.segments, value) as JsonObject;
      }
    }
    thing._namespace = ev.namespace;
    thing._revision = ev.entry.revision;
    thing._modified = ev.entry.timestamp;
    const times = ev.entry.leafTimes;
    if (times) thing._metadata = metadataView(times);
    things.set(ev, thing);
  }
  return thing;
}

function withoutNulls(value: unknown): unknown {
  if (value === null) return {};
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== null) putKey(out, k, isJsonObject(v) ? withoutNulls(v) : v);
  }
  return out;
}

/**
 * Ditto's `_context` of an event, as SSE `fields` project it: the Ditto Protocol topic, path, value
 * (null for a deletion) and headers of the event.
 */
export function eventContext(ev: TwinEvent): JsonObject {
  // Ditto renders a missing value (a deletion) as null here.
  return { topic: ev.topic, path: ev.entry.path, value: ev.value ?? null, headers: { ...ev.headers } };
}

/** Deep merge where `base` wins: the event's own data takes priority over the enriched fields. */
export function mergeUnder(base: JsonObject, extra: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const mine = Object.prototype.hasOwnProperty.call(base, k) ? base[k] : undefined;
    if (mine === undefined) putKey(out, k, v);
    else if (isJsonObject(mine) && isJsonObject(v)) putKey(out, k, mergeUnder(mine, v));
  }
  return out;
}

/** `_metadata` of the event (the times of the leaves it wrote), as `extraFields` select it. */
export function eventMetadata(ev: TwinEvent): JsonObject | undefined {
  const times = ev.entry.leafTimes;
  return times ? { _metadata: metadataView(times) } : undefined;
}

/** The envelope with `extra` appended (the shared string stays untouched). */
export function wireWithExtra(ev: TwinEvent, extra: JsonObject): string {
  return `${ev.wire.slice(0, -1)},"extra":${JSON.stringify(extra)}}`;
}
