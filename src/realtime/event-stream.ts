import type { FeedSubscription, JournalFeed } from '../journal/journal-feed.js';
import type { JournalEntry } from '../journal/journal.types.js';
import { selectFields } from '../twins/model/fields.js';
import type { JsonObject } from '../twins/model/json-pointer.js';
import { matchesRql } from '../twins/search/rql-match.js';
import type { EnforcerSource, EventAccess } from './event-access.js';
import type { StreamSpec } from './stream-spec.js';
import type { ThingState, ThingStates } from './thing-states.js';
import { eventThing, mergeUnder, twinEvent, type TwinEvent } from './twin-event.js';

/** Framing the transport adds to a message (a WebSocket header is at most 14 bytes). */
const FRAME_OVERHEAD = 14;

/** Where a stream writes: a WebSocket or an SSE response. */
export interface StreamSink {
  /** Bytes handed to the transport and not yet written to the network. */
  readonly buffered: number;
  /** `track`: report when it is flushed (a replay waits for the client to drain). */
  send(data: string | Buffer, track: boolean): void;
  /** Hold writes back and flush them together (one syscall for a batch of events). */
  cork(): void;
  uncork(): void;
  /** Resolves when the transport's buffer is low again, or it closed. */
  drained(): Promise<void>;
  /** The client fell behind by more than the limit: close the transport. */
  overflow(): void;
}

/** Renders one event for the transport; undefined skips it (e.g. SSE with nothing selected). */
export type RenderEvent = (
  ev: TwinEvent,
  extra: JsonObject | undefined,
  thing: () => JsonObject,
) => string | Buffer | undefined;

export interface StreamDeps {
  feed: JournalFeed;
  states: ThingStates;
  /** WS_BUFFER_MAX_BYTES: outbound data a connection may have pending. */
  limit: number;
  /** The compiled policies that decide what each subscriber sees. */
  enforcers: EnforcerSource;
}

export interface StreamOptions {
  from?: string;
  /** Who subscribes: events are delivered and cut by the things' policies. */
  access?: EventAccess;
  /** Events this client must not get, e.g. those caused by its own commands. */
  skip?: (entry: JournalEntry) => boolean;
  onError: (err: unknown) => void;
}

/**
 * One client's event stream: selects, enriches and filters the journal feed as Ditto does, and keeps
 * per-thing order. Outbound data is bounded: what the transport holds plus what waits here for
 * enrichment may not exceed the limit — beyond it the live stream closes the connection rather than
 * slow anyone else down or grow memory. A replay instead waits for the client to drain, because it
 * reads the journal at the client's pace anyway.
 */
export class EventStream {
  private sub?: FeedSubscription;
  private chain: Promise<void> = Promise.resolve();
  private pendingBatches = 0;
  private queuedBytes = 0;
  private closed = false;
  /** The most outbound data this stream ever had pending (for tests and metrics). */
  peakPending = 0;

  constructor(
    private readonly deps: StreamDeps,
    private readonly spec: StreamSpec,
    private readonly sink: StreamSink,
    private readonly render: RenderEvent,
    private readonly options: StreamOptions,
  ) {}

  start(): void {
    this.sub = this.deps.feed.subscribe((entries) => this.onEntries(entries), {
      from: this.options.from,
      onError: (err) => this.fail(err),
    });
  }

  close(): void {
    this.closed = true;
    this.sub?.close();
  }

  private get live(): boolean {
    return this.sub?.live ?? false;
  }

  private onEntries(entries: readonly JournalEntry[]): Promise<void> | undefined {
    if (this.closed) return undefined;
    const selected = entries.filter((e) => this.selects(e));
    if (selected.length === 0) return undefined;
    const needsPolicies = this.options.access ? this.options.access.missing(selected).length > 0 : false;
    if (this.pendingBatches === 0 && this.live && !this.spec.extraFields && !needsPolicies) {
      this.emitNow(selected);
      return undefined;
    }
    const batch = { bytes: selected.reduce((n, e) => n + twinEvent(e).wireBytes, 0) };
    if (this.live && this.pending(batch.bytes) > this.deps.limit) {
      this.overflow();
      return undefined;
    }
    this.queuedBytes += batch.bytes;
    this.pendingBatches++;
    const run = this.chain
      .then(() => this.process(selected, batch))
      .finally(() => {
        this.queuedBytes -= batch.bytes;
        this.pendingBatches--;
      });
    this.chain = run.catch((err: unknown) => this.fail(err));
    return this.chain;
  }

  private selects(e: JournalEntry): boolean {
    // A stream carries either thing or policy changes (Ditto subscribes to each kind separately).
    if (e.entity !== this.spec.entity) return false;
    const { namespaces, thingIds } = this.spec;
    if (thingIds && !thingIds.has(e.thingId)) return false;
    if (namespaces && !namespaces.has(twinEvent(e).namespace)) return false;
    return !this.options.skip?.(e);
  }

  private emitNow(entries: JournalEntry[]): void {
    this.sink.cork();
    try {
      for (const e of entries) {
        const text = this.renderIfMatching(twinEvent(e), undefined);
        if (text !== undefined && !this.write(text)) return;
      }
    } finally {
      this.sink.uncork();
    }
  }

  /** The slow path: enrichment (async) and replay pacing, in order behind earlier batches. */
  private async process(entries: JournalEntry[], batch: { bytes: number }): Promise<void> {
    await this.options.access?.load(entries);
    const states = this.spec.extraFields ? await this.deps.states.after(entries) : undefined;
    this.sink.cork();
    try {
      for (const e of entries) {
        if (this.closed) return;
        const ev = twinEvent(e);
        batch.bytes -= ev.wireBytes;
        this.queuedBytes -= ev.wireBytes;
        const text = this.renderIfMatching(ev, states?.get(e.seq));
        if (text === undefined) continue;
        if (!this.live && this.sink.buffered > this.deps.limit / 2) {
          this.sink.uncork();
          await this.sink.drained();
          this.sink.cork();
        }
        if (this.closed || !this.write(text)) return;
      }
    } finally {
      this.sink.uncork();
    }
  }

  private renderIfMatching(event: TwinEvent, state: ThingState | undefined): string | Buffer | undefined {
    const access = this.options.access;
    const ev = access ? access.visible(event) : event;
    if (!ev) return undefined;
    // Ditto cannot enrich the deletion of a whole thing; neither can we.
    const selected =
      this.spec.extraFields && state && !(ev.entry.action === 'deleted' && ev.segments.length === 0)
        ? selectFields(state, this.spec.extraFields)
        : undefined;
    const extra = access ? access.extra(ev, selected) : selected;
    let thing: JsonObject | undefined;
    const view = (): JsonObject => (thing ??= extra ? mergeUnder(eventThing(ev), extra) : eventThing(ev));
    // As in Ditto, the filter sees the change itself plus the enriched fields.
    if (this.spec.filter && !matchesRql(this.spec.filter, { doc: view(), placeholder: ev.placeholder })) {
      return undefined;
    }
    return this.render(ev, extra, view);
  }

  private pending(extra = 0): number {
    return this.sink.buffered + this.queuedBytes + extra;
  }

  private write(data: string | Buffer): boolean {
    if (this.closed) return false;
    const bytes = (typeof data === 'string' ? Buffer.byteLength(data) : data.length) + FRAME_OVERHEAD;
    // A replay holds only the page it read and waits for the client, so only the transport counts.
    const pending = this.live ? this.pending(bytes) : this.sink.buffered + bytes;
    if (pending > this.deps.limit) {
      this.overflow();
      return false;
    }
    this.sink.send(data, !this.live);
    this.peakPending = Math.max(this.peakPending, this.pending());
    return true;
  }

  private overflow(): void {
    if (this.closed) return;
    this.close();
    this.sink.overflow();
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.close();
    this.options.onError(err);
  }
}
