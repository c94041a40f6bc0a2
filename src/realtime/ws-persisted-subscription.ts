import type { AuthContext } from '../auth/auth-context.js';
import { DomainError, toDomainError } from '../common/domain-error.js';
import type { FeedSubscription } from '../journal/journal-feed.js';
import type { JournalEntry } from '../journal/journal.types.js';
import type { RqlNode } from '../twins/search/index.js';
import { matchesRql } from '../twins/search/rql-match.js';
import { EventAccess, type EnforcerSource } from './event-access.js';
import type { EventSource, HistoricalStreams } from './historical-feed.js';
import { eventThing, twinEvent } from './twin-event.js';
import type { Envelopes, PersistedOptions } from './ws-streaming-protocol.js';

/** Live changes that may wait for demand (a range ending at a time still ahead) before it fails. */
const MAX_WAITING = 10_000;

export interface PersistedEventsDeps {
  historical: Pick<HistoricalStreams, 'open'>;
  feed: EventSource & { readonly head: string };
  enforcers: EnforcerSource;
  /** WS_STREAMING_IDLE_TIMEOUT_MS: a subscription not asked for more this long fails, as in Ditto. */
  idleTimeoutMs: number;
  /** The subject's request budget (RATE_LIMIT_PER_SECOND): undefined to go on, else the 429. */
  rate: () => Promise<DomainError | undefined>;
  /** Errors that are not the client's (logged, answered as Ditto's 500). */
  log: (details: string) => void;
}

type State = 'starting' | 'streaming' | 'ended' | 'stopped';

/** One subscription: a historical feed of the thing, paced by the client's demand. */
export class Subscription {
  private state: State = 'starting';
  private demand = 0;
  private requested = false;
  /** What ends the subscription once the client has asked for anything (Ditto's guarantee). */
  private ending?: string;
  private feed?: FeedSubscription;
  private chain: Promise<void> = Promise.resolve();
  private waiting = 0;
  private wake?: () => void;
  private idle?: NodeJS.Timeout;
  private readonly access: EventAccess | undefined;

  constructor(
    private readonly id: string,
    private readonly envelope: Envelopes,
    private readonly send: (text: string) => void,
    private readonly auth: AuthContext,
    private readonly deps: PersistedEventsDeps,
    private readonly onClose: () => void,
  ) {
    this.access = EventAccess.for(auth, deps.enforcers);
    this.idle = setTimeout(() => this.timedOut(), deps.idleTimeoutMs);
    this.idle.unref();
  }

  start(thingId: string, options: PersistedOptions): void {
    if (this.state !== 'starting') return;
    this.deps.historical
      .open(thingId, options.bounds, this.auth, this.deps.feed, () => this.end())
      .then((source) => {
        if (this.state !== 'starting') return;
        this.state = 'streaming';
        this.feed = source.subscribe((entries) => this.onEntries(entries, options.filter), {
          onError: (err) => this.fail(err),
        });
      })
      .catch((err: unknown) => this.fail(err));
  }

  request(n: number): void {
    if (this.state === 'stopped') return;
    this.idle?.refresh();
    this.requested = true;
    // Reactive streams allow up to 2^63-1 outstanding; beyond the safe integers it is unbounded anyway.
    this.demand = Math.min(Number.MAX_SAFE_INTEGER, this.demand + n);
    this.wake?.();
    if (this.ending !== undefined) this.finish(this.ending);
  }

  /** A request that breaks the protocol: the client asked, so the failure comes at once. */
  refuse(err: unknown): void {
    this.requested = true;
    this.fail(err);
  }

  /** Ends with `failed` (after the first request). */
  fail(err: unknown): void {
    if (this.state === 'stopped' || this.ending !== undefined) return;
    const error = toDomainError(err, this.deps.log);
    this.closeFeed();
    this.state = 'ended';
    this.wake?.();
    this.ending = this.envelope.failed(this.id, error);
    if (this.requested) this.finish(this.ending);
  }

  /** `cancel`, or the session closed: no further frame. */
  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearTimeout(this.idle);
    this.closeFeed();
    this.wake?.();
    this.onClose();
  }

  private end(): void {
    if (this.state === 'stopped' || this.ending !== undefined) return;
    // The feed ended after the last entry was processed (its listener's promise settled).
    void this.chain.then(() => {
      if (this.state === 'stopped' || this.ending !== undefined) return;
      this.state = 'ended';
      this.ending = this.envelope.event('complete', { subscriptionId: this.id });
      if (this.requested) this.finish(this.ending);
    });
  }

  /** No request for WS_STREAMING_IDLE_TIMEOUT_MS: Ditto's timeout, sent whether asked for or not. */
  private timedOut(): void {
    if (this.state === 'stopped') return;
    const error = new DomainError(
      408,
      'streaming.subscription.timeout',
      `The streaming subscription '${this.id}' stopped after being idle for ${this.deps.idleTimeoutMs} ms.`,
      'Send request commands to keep a subscription going.',
    );
    this.closeFeed();
    this.state = 'ended';
    this.wake?.();
    this.finish(this.envelope.failed(this.id, error));
  }

  private finish(frame: string): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearTimeout(this.idle);
    this.onClose();
    this.send(frame);
  }

  private closeFeed(): void {
    this.feed?.close();
    this.feed = undefined;
  }

  private onEntries(entries: readonly JournalEntry[], filter: RqlNode | undefined): Promise<void> {
    if (this.waiting + entries.length > MAX_WAITING) {
      this.fail(
        new DomainError(
          408,
          'streaming.subscription.timeout',
          'The streaming subscription fell too far behind: request more demand sooner.',
          'Request demand as events arrive.',
        ),
      );
      return Promise.resolve();
    }
    this.waiting += entries.length;
    const run = this.chain.then(() => this.deliver(entries, filter));
    this.chain = run.catch((err: unknown) => this.fail(err));
    return this.chain;
  }

  private async deliver(entries: readonly JournalEntry[], filter: RqlNode | undefined): Promise<void> {
    try {
      await this.access?.load(entries);
      for (const e of entries) {
        if (this.state !== 'streaming') return;
        const event = twinEvent(e);
        const ev = this.access ? this.access.visible(event) : event;
        if (!ev) continue;
        if (filter && !matchesRql(filter, { doc: eventThing(ev), placeholder: ev.placeholder })) continue;
        while (this.demand === 0 && this.state === 'streaming') {
          await new Promise<void>((ok) => (this.wake = ok));
          this.wake = undefined;
        }
        if (this.state !== 'streaming') return;
        this.demand--;
        this.send(this.envelope.next(this.id, ev.wire));
      }
    } finally {
      this.waiting -= entries.length;
    }
  }
}
