import type { JournalEntry } from '../journal/journal.types.js';
import { selectFields } from '../twins/model/fields.js';
import type { JsonObject } from '../twins/model/json-pointer.js';
import { matchesRql } from '../twins/search/rql-match.js';
import type { FieldSelector } from '../twins/thing-view.js';
import type { EventAccess } from './event-access.js';
import type { Framing } from './stream-sink.js';
import type { StreamSpec } from './stream-spec.js';
import type { ThingState, ThingStates } from './thing-states.js';
import { eventMetadata, eventThing, mergeUnder, twinEvent, type TwinEvent } from './twin-event.js';

/** Renders one event for the transport; undefined skips it (e.g. SSE with nothing selected). */
export type RenderEvent = (
  ev: TwinEvent,
  extra: JsonObject | undefined,
  thing: () => JsonObject,
) => string | Buffer | undefined;

/** An event as a shape of subscription renders it, encoded once for every stream of that shape. */
export interface Rendered {
  entry: JournalEntry;
  data: Buffer;
}

/**
 * A feed batch as one shape of subscription sees it: the entries it selects, rendered once
 * (synchronously, or once the policies and states it needs are loaded), and framed once per
 * framing. Each stream of the shape then only drops its own skipped entries and writes.
 */
export class ShapeBatch {
  events?: Rendered[];
  ready?: Promise<Rendered[]>;
  private readonly framed = new Map<string, Buffer>();

  constructor(
    /** Selected by the shape, before any stream's own `skip`. */
    readonly selected: JournalEntry[],
    /** The events' wire size, as the outbound bound counts what waits for rendering. */
    readonly bytes: number,
  ) {}

  framedBy(framing: Framing, events: Rendered[]): Buffer {
    let bytes = this.framed.get(framing.key);
    if (!bytes) {
      bytes = framing.frame(events.map((r) => r.data));
      this.framed.set(framing.key, bytes);
    }
    return bytes;
  }
}

/** Per feed batch (the very array the feed hands every live subscriber), its shapes' renderings. */
const shared = new WeakMap<readonly JournalEntry[], Map<string, ShapeBatch>>();
/** The last batch still loading, per shape (or per stream without one). */
const preparing = new Map<string | object, Promise<unknown>>();

/**
 * Selects and renders feed batches for one stream: as its shape (when it has one) renders them,
 * shared with the other streams of that shape.
 */
export class ShapeRenderer {
  constructor(
    private readonly states: Pick<ThingStates, 'after'>,
    private readonly spec: StreamSpec,
    private readonly render: RenderEvent,
    private readonly access: EventAccess | undefined,
    /** The stream's shape (see EventStream); undefined renders for this stream alone. */
    private readonly shape: string | undefined,
  ) {}

  /** The batch as this stream's shape renders it: shared with the other streams of the shape. */
  batchOf(entries: readonly JournalEntry[]): ShapeBatch {
    if (this.shape === undefined) return this.prepare(entries);
    let shapes = shared.get(entries);
    if (!shapes) {
      shapes = new Map();
      shared.set(entries, shapes);
    }
    let batch = shapes.get(this.shape);
    if (!batch) {
      batch = this.prepare(entries);
      shapes.set(this.shape, batch);
    }
    return batch;
  }

  /** Selects and renders: synchronously when nothing needs loading, else once it is loaded. */
  private prepare(entries: readonly JournalEntry[]): ShapeBatch {
    const selected = entries.filter((e) => this.selects(e));
    const batch = new ShapeBatch(
      selected,
      selected.reduce((n, e) => n + twinEvent(e).wireBytes, 0),
    );
    if (selected.length === 0) {
      batch.events = [];
      return batch;
    }
    // A fresh view for each batch: what it loads serves this batch only, whoever renders it.
    const access = this.access?.fresh();
    if (!this.spec.extraFields && !(access && access.missing(selected).length > 0)) {
      batch.events = this.renderAll(selected, undefined, access);
      return batch;
    }
    // One batch of a shape loads at a time: the next finds what this one loaded in the cache
    // instead of loading the same policies again while they are under way.
    const key = this.shape ?? this;
    const prior = preparing.get(key);
    const ready = (async () => {
      await prior?.catch(() => undefined);
      await access?.load(selected);
      const states = this.spec.extraFields ? await this.states.after(selected) : undefined;
      batch.events = this.renderAll(selected, states, access);
      return batch.events;
    })();
    batch.ready = ready;
    preparing.set(key, ready);
    // Streams that closed meanwhile do not wait for it; those that do get the error.
    ready
      .catch(() => undefined)
      .finally(() => {
        if (preparing.get(key) === ready) preparing.delete(key);
      })
      .catch(() => undefined);
    return batch;
  }

  private selects(e: JournalEntry): boolean {
    // A stream carries either thing or policy changes (Ditto subscribes to each kind separately).
    if (e.entity !== this.spec.entity) return false;
    const { namespaces, thingIds } = this.spec;
    if (thingIds && !thingIds.has(e.thingId)) return false;
    return !namespaces || namespaces.has(twinEvent(e).namespace);
  }

  private renderAll(
    entries: JournalEntry[],
    states: Map<string, ThingState> | undefined,
    access: EventAccess | undefined,
  ): Rendered[] {
    const out: Rendered[] = [];
    for (const e of entries) {
      const data = this.renderIfMatching(twinEvent(e), states?.get(e.seq), access);
      if (data !== undefined)
        out.push({ entry: e, data: typeof data === 'string' ? Buffer.from(data) : data });
    }
    return out;
  }

  private renderIfMatching(
    event: TwinEvent,
    state: ThingState | undefined,
    access: EventAccess | undefined,
  ): string | Buffer | undefined {
    const ev = access ? access.visible(event) : event;
    if (!ev) return undefined;
    // Ditto cannot enrich the deletion of a whole thing; neither can we.
    const selected =
      this.spec.extraFields && state && !(ev.entry.action === 'deleted' && ev.segments.length === 0)
        ? selectFields(state, this.spec.extraFields)
        : undefined;
    const extra = withMetadata(ev, access ? access.extra(ev, selected) : selected, this.spec.extraFields);
    let thing: JsonObject | undefined;
    const view = (): JsonObject => (thing ??= extra ? mergeUnder(eventThing(ev), extra) : eventThing(ev));
    // As in Ditto, the filter sees the change itself plus the enriched fields.
    if (this.spec.filter && !matchesRql(this.spec.filter, { doc: view(), placeholder: ev.placeholder })) {
      return undefined;
    }
    return this.render(ev, extra, view);
  }
}

/**
 * `extraFields` selecting `_metadata`: the event's own metadata (the times of the leaves it wrote,
 * already cut to what the subscriber may read), not the thing's, as Ditto's events carry the
 * metadata of what changed. The policy cut of the other extra fields does not apply to it: it
 * names no resource of the thing.
 */
function withMetadata(
  ev: TwinEvent,
  extra: JsonObject | undefined,
  fields: FieldSelector | undefined,
): JsonObject | undefined {
  if (!fields || !fields.pointers.some((p) => p[0] === '_metadata')) return extra;
  const meta = eventMetadata(ev);
  if (!meta) return extra;
  const picked = selectFields(meta, fields);
  return Object.keys(picked).length === 0 ? extra : { ...extra, ...picked };
}
