import { Inject, Injectable } from '@nestjs/common';
import type { AuthContext } from '../auth/auth-context.js';
import { DomainError } from '../common/domain-error.js';
import type { FeedListener, FeedOptions, FeedSubscription, JournalFeed } from '../journal/journal-feed.js';
import type { JournalEntry } from '../journal/journal.types.js';
import { parseTimestamp } from '../twins/history/history-request.js';
import {
  ThingHistoryService,
  type RevisionRange,
  type StreamBounds,
} from '../twins/history/thing-history.service.js';

/** What an EventStream reads from: the journal feed, or a thing's history followed by it. */
export type EventSource = Pick<JournalFeed, 'subscribe'>;

/** The longest a timer can wait (setTimeout's limit); a later end is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One thing's journal rows over a revision range, then (when the range is open or reaches past
 * the present) the live feed, with no gap and no duplicate: the live part replays from the feed's
 * head as it was before the history was read, and leaves out revisions the history already sent.
 * When the range is over, the subscription closes and `onEnd` runs after the last entry was
 * handed on (and, while replaying, processed).
 */
export class HistoricalFeed implements EventSource {
  constructor(
    private readonly thingId: string,
    private readonly range: RevisionRange,
    /** Journal rows of the thing with revisions in (after, upTo], in order, a page at a time. */
    private readonly read: (after: number, upTo: number) => Promise<JournalEntry[]>,
    private readonly live: { feed: EventSource; from: string },
    private readonly onEnd: () => void,
  ) {}

  subscribe(listener: FeedListener, options: FeedOptions = {}): FeedSubscription {
    const run = new HistoricalRun(this.thingId, this.range, this.read, this.live, this.onEnd, listener);
    run.start().catch((err: unknown) => {
      if (run.closed) return;
      run.close();
      options.onError?.(err);
    });
    return run;
  }
}

class HistoricalRun implements FeedSubscription {
  closed = false;
  private inner?: FeedSubscription;
  private timer?: NodeJS.Timeout;
  /** The newest revision handed on. */
  private last: number;

  constructor(
    private readonly thingId: string,
    private readonly range: RevisionRange,
    private readonly read: (after: number, upTo: number) => Promise<JournalEntry[]>,
    private readonly liveFeed: { feed: EventSource; from: string },
    private readonly onEnd: () => void,
    private readonly listener: FeedListener,
  ) {
    this.last = range.from - 1;
  }

  get live(): boolean {
    return this.inner?.live ?? false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.inner?.close();
  }

  async start(): Promise<void> {
    const { to, until } = this.range;
    const upTo = to ?? Number.MAX_SAFE_INTEGER;
    while (!this.closed && this.last < upTo) {
      const page = await this.read(this.last, upTo);
      if (this.closed || page.length === 0) break;
      const kept = until === undefined ? page : page.filter((e) => e.timestamp <= until);
      if (kept.length > 0) await this.listener(kept);
      this.last = page[page.length - 1].revision;
      if (kept.length < page.length) return this.end(undefined);
    }
    if (this.closed) return;
    if (to !== undefined && this.last >= to) return this.end(undefined);
    if (until !== undefined) this.armTimer(until);
    this.inner = this.liveFeed.feed.subscribe((entries) => this.onLive(entries), {
      from: this.liveFeed.from,
      onError: () => this.end(undefined),
    });
  }

  private onLive(entries: readonly JournalEntry[]): void | Promise<void> {
    if (this.closed) return undefined;
    const { to, until } = this.range;
    const out: JournalEntry[] = [];
    let done = false;
    for (const e of entries) {
      // Only this thing's changes (a policy's entries may carry the same id).
      if (e.entity !== undefined || e.thingId !== this.thingId) continue;
      if (e.revision <= this.last) continue;
      if (until !== undefined && e.timestamp > until) {
        done = true;
        break;
      }
      this.last = e.revision;
      out.push(e);
      if (to !== undefined && e.revision >= to) {
        done = true;
        break;
      }
    }
    const handed = out.length > 0 ? this.listener(out) : undefined;
    if (done) this.end(handed);
    return handed;
  }

  private end(handed: void | Promise<void> | undefined): void {
    if (this.closed) return;
    this.close();
    void Promise.resolve(handed)
      .catch(() => undefined)
      .then(() => this.onEnd());
  }

  /** A range ending at a time still ahead also ends when that time has come, changes or not. */
  private armTimer(until: string): void {
    const wait = Date.parse(until) - Date.now();
    this.timer = setTimeout(
      () => (wait > MAX_TIMER_MS ? this.armTimer(until) : this.end(undefined)),
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
    this.timer.unref();
  }
}

/** Ditto's SSE query parameters of a historical stream; undefined when none is given. */
export function historicalBounds(query: URLSearchParams): StreamBounds | undefined {
  const get = (k: string): string | undefined => query.get(k) ?? undefined;
  const fromRevision = get('from-historical-revision');
  const toRevision = get('to-historical-revision');
  const fromTimestamp = get('from-historical-timestamp');
  const toTimestamp = get('to-historical-timestamp');
  if ([fromRevision, toRevision, fromTimestamp, toTimestamp].every((v) => v === undefined)) return undefined;
  if (fromRevision === undefined && fromTimestamp === undefined) {
    throw invalid('A historical stream needs from-historical-revision or from-historical-timestamp.');
  }
  if (fromRevision !== undefined && fromTimestamp !== undefined) {
    throw invalid('Give from-historical-revision or from-historical-timestamp, not both.');
  }
  if (toRevision !== undefined && toTimestamp !== undefined) {
    throw invalid('Give to-historical-revision or to-historical-timestamp, not both.');
  }
  const bounds: StreamBounds = {};
  if (fromRevision !== undefined) bounds.fromRevision = revision('from-historical-revision', fromRevision);
  if (toRevision !== undefined) bounds.toRevision = revision('to-historical-revision', toRevision);
  if (fromTimestamp !== undefined)
    bounds.fromTimestamp = timestamp('from-historical-timestamp', fromTimestamp);
  if (toTimestamp !== undefined) bounds.toTimestamp = timestamp('to-historical-timestamp', toTimestamp);
  return bounds;
}

/** Negative revisions count back from the current one, as in Ditto. */
function revision(name: string, value: string): number {
  if (!/^-?\d{1,15}$/.test(value))
    throw invalid(`The query parameter '${name}' must be an integer, not '${value}'.`);
  return Number(value);
}

function timestamp(name: string, value: string): string {
  try {
    return parseTimestamp(value, name);
  } catch {
    throw invalid(`The query parameter '${name}' must be an ISO-8601 timestamp, not '${value}'.`);
  }
}

function invalid(message: string): DomainError {
  return new DomainError(
    400,
    'gateway:request.invalid',
    message,
    'See the history documentation: from-/to-historical-revision or -timestamp.',
  );
}

/** Opens historical streams of one thing for the SSE and WebSocket transports. */
@Injectable()
export class HistoricalStreams {
  constructor(@Inject(ThingHistoryService) private readonly history: ThingHistoryService) {}

  /**
   * Checks that `auth` may read the thing and that its journal holds the range (else Ditto's
   * errors), then returns the source to stream it from. `live` is the feed the stream continues on.
   */
  async open(
    thingId: string,
    bounds: StreamBounds,
    auth: AuthContext | undefined,
    live: EventSource & { readonly head: string },
    onEnd: () => void,
  ): Promise<HistoricalFeed> {
    // Taken before the history is read: everything committed after it comes live, the rest is read.
    const from = live.head;
    const range = await this.history.streamRange(thingId, bounds, auth);
    return new HistoricalFeed(
      thingId,
      range,
      (after, upTo) => this.history.entries(thingId, after, upTo),
      { feed: live, from },
      onEnd,
    );
  }
}
