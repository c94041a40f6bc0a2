import type { FeedSubscription, JournalFeed } from '../journal/journal-feed.js';
import type { JournalEntry } from '../journal/journal.types.js';
import type { EnforcerSource, EventAccess } from './event-access.js';
import { ShapeRenderer, type RenderEvent, type Rendered, type ShapeBatch } from './shape-render.js';
import type { StreamSink } from './stream-sink.js';
import type { StreamSpec } from './stream-spec.js';
import type { ThingStates } from './thing-states.js';

/** Framing the transport adds to a message (a WebSocket header is at most 14 bytes). */
const FRAME_OVERHEAD = 14;

export interface StreamDeps {
  /** The journal feed, or a thing's history followed by it (historical-feed.ts). */
  feed: Pick<JournalFeed, 'subscribe'>;
  states: Pick<ThingStates, 'after'>;
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
  /**
   * Names what `render` does: streams with the same key must render every event identically. With
   * it, streams of the same shape (spec, subjects, render, framing) render each batch once and
   * share the bytes; without it, each stream renders for itself.
   */
  renderKey?: string;
  onError: (err: unknown) => void;
}

/**
 * One client's event stream: selects, enriches and filters the journal feed as Ditto does, and keeps
 * per-thing order. Streams that subscribed alike — same spec, same authorization subjects, same
 * rendering and framing — share each batch's rendering and framed bytes, so fan-out to N clients
 * of one shape costs one render and N writes; subjects are part of the shape, so no two clients
 * whose permissions may differ ever share a rendered event. Outbound data is bounded: what the
 * transport holds plus what waits here for enrichment may not exceed the limit — beyond it the
 * live stream closes the connection rather than slow anyone else down or grow memory. A replay
 * instead waits for the client to drain, because it reads the journal at the client's pace anyway.
 */
export class EventStream {
  private sub?: FeedSubscription;
  private chain: Promise<void> = Promise.resolve();
  private pendingBatches = 0;
  private queuedBytes = 0;
  private closed = false;
  private readonly renderer: ShapeRenderer;
  /** The most outbound data this stream ever had pending (for tests and metrics). */
  peakPending = 0;

  constructor(
    private readonly deps: StreamDeps,
    spec: StreamSpec,
    private readonly sink: StreamSink,
    render: RenderEvent,
    private readonly options: StreamOptions,
  ) {
    let shape: string | undefined;
    if (spec.shape !== undefined && options.renderKey !== undefined) {
      shape = JSON.stringify([
        spec.entity ?? 'thing',
        spec.shape,
        options.renderKey,
        options.access?.key ?? null,
        sink.framing?.key ?? null,
      ]);
    }
    this.renderer = new ShapeRenderer(deps.states, spec, render, options.access, shape);
  }

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
    const batch = this.renderer.batchOf(entries);
    const skipped = this.skipped(batch.selected);
    if (batch.selected.length === (skipped?.size ?? 0)) return undefined;
    if (this.pendingBatches === 0 && this.live && batch.events) {
      this.emit(batch, batch.events, skipped);
      return undefined;
    }
    const queued = { bytes: batch.bytes };
    // The bound is on what waits in front of a batch: one burst larger than the limit, to a client
    // that keeps up, is written (and checked) event by event once rendered.
    if (this.live && this.pendingBatches > 0 && this.pending(queued.bytes) > this.deps.limit) {
      this.overflow();
      return undefined;
    }
    this.queuedBytes += queued.bytes;
    this.pendingBatches++;
    const run = this.chain
      .then(() => this.process(batch, skipped, queued))
      .finally(() => {
        this.queuedBytes -= queued.bytes;
        this.pendingBatches--;
      });
    this.chain = run.catch((err: unknown) => this.fail(err));
    return this.chain;
  }

  /** This stream's own exclusions, asked of every selected entry (skip keeps track of them). */
  private skipped(selected: JournalEntry[]): Set<JournalEntry> | undefined {
    const skip = this.options.skip;
    if (!skip) return undefined;
    let out: Set<JournalEntry> | undefined;
    for (const e of selected) if (skip(e)) (out ??= new Set()).add(e);
    return out;
  }

  /**
   * Live: the whole batch in one write when nothing of it is skipped and it fits within the limit,
   * else event by event. A batch larger than what the limit leaves goes out uncorked, so the
   * transport hands each event to the network as it can and only what it really holds back counts:
   * a client that reads is not closed for the size of a burst, one that does not is at the limit.
   */
  private emit(batch: ShapeBatch, events: Rendered[], skipped: Set<JournalEntry> | undefined): void {
    if (events.length === 0) return;
    const framing = this.sink.framing;
    if (framing && !(skipped && events.some((r) => skipped.has(r.entry)))) {
      const bytes = batch.framedBy(framing, events);
      if (this.pending(bytes.length) <= this.deps.limit && framing.sendFramed(bytes, false)) {
        this.peakPending = Math.max(this.peakPending, this.pending());
        this.sink.delivered?.(events.length);
        return;
      }
    }
    let size = 0;
    for (const r of events) size += r.data.length + FRAME_OVERHEAD;
    const fits = this.pending(size) <= this.deps.limit;
    if (fits) this.sink.cork();
    try {
      for (const r of events) {
        if (skipped?.has(r.entry)) continue;
        if (!this.write(r.data)) return;
      }
    } finally {
      if (fits) this.sink.uncork();
    }
  }

  /** The slow path: enrichment (async) and replay pacing, in order behind earlier batches. */
  private async process(
    batch: ShapeBatch,
    skipped: Set<JournalEntry> | undefined,
    queued: { bytes: number },
  ): Promise<void> {
    const events = batch.events ?? (await batch.ready!);
    if (this.closed) return;
    // Rendered: from here on what the transport holds is what counts.
    this.queuedBytes -= queued.bytes;
    queued.bytes = 0;
    if (this.live) {
      this.emit(batch, events, skipped);
      return;
    }
    this.sink.cork();
    try {
      for (const r of events) {
        if (this.closed) return;
        if (skipped?.has(r.entry)) continue;
        if (!this.live && this.sink.buffered > this.deps.limit / 2) {
          this.sink.uncork();
          await this.sink.drained();
          this.sink.cork();
        }
        if (this.closed || !this.write(r.data)) return;
      }
    } finally {
      this.sink.uncork();
    }
  }

  private pending(extra = 0): number {
    return this.sink.buffered + this.queuedBytes + extra;
  }

  private write(data: Buffer): boolean {
    if (this.closed) return false;
    const bytes = data.length + FRAME_OVERHEAD;
    // A replay holds only the page it read and waits for the client, so only the transport counts.
    const pending = this.live ? this.pending(bytes) : this.sink.buffered + bytes;
    if (pending > this.deps.limit) {
      this.overflow();
      return false;
    }
    this.sink.send(data, !this.live);
    this.peakPending = Math.max(this.peakPending, this.pending());
    this.sink.delivered?.(1);
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
