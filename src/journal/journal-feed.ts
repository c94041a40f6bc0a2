import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DatabaseLocation } from '../persistence/database-location.js';
import { TwinEventBus } from './event-bus.js';
import { PgListener } from '../persistence/pg-listener.js';
import { asReadBack, JOURNAL_CHANNEL } from './journal.repository.js';
import { JournalService } from './journal.service.js';
import type { JournalEntry } from './journal.types.js';

/**
 * Receives entries in seq order, each exactly once. While the subscription replays history the
 * feed waits for a returned promise before it reads on, so a slow consumer paces its own replay;
 * once live, the return value is not awaited (a slow consumer must not hold up the others).
 */
export type FeedListener = (entries: readonly JournalEntry[]) => void | Promise<void>;

export interface FeedOptions {
  /** Replay every entry with a seq greater than this one first, then switch to live. */
  from?: string;
  /** The replay could not read the journal; the subscription is closed. */
  onError?: (err: unknown) => void;
}

export interface FeedSubscription {
  /** False while the subscription still replays history. */
  readonly live: boolean;
  close(): void;
}

const PAGE = 1000;
/** How long the notice of this process's own commit waits for the commit's entries from the bus. */
const OWN_COMMIT_GRACE_MS = 200;
/** After a failed read of the journal, the feed tries again this much later. */
const PUMP_RETRY_MS = 5000;

/** Shows in pg_stat_activity, so operators (and tests) can find the listening connection. */
export const FEED_APPLICATION_NAME = 'twin-journal-feed';

/** Seqs are decimal strings without leading zeros: compare by length, then lexically. */
export function seqAfter(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

class Subscriber implements FeedSubscription {
  live = false;
  closed = false;

  constructor(
    readonly listener: FeedListener,
    /** The last seq handed to (or skipped for) this subscriber. */
    public cursor: string,
    private readonly detach: (s: Subscriber) => void,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detach(this);
  }
}

/**
 * One ordered, gap-free feed of committed journal entries per process. It reads the journal itself
 * (`readAfter` its last seq) whenever something may have been committed: on the NOTIFY every append
 * sends at commit (so changes made by other replicas arrive too) and, sooner, on the in-process
 * event bus. Because seqs become visible in commit order, reading from the last seq can never skip
 * a row; the notification payload is only a hint. Subscribers may ask for a replay from any seq and
 * are switched to live delivery with no gap and no duplicate. Without one they get what is
 * committed after they subscribed, as far as this process knows (its own commits and those
 * announced to it), even while the feed is still reading earlier ones, as a client that opens a
 * stream after a change was acknowledged expects.
 */
@Injectable()
export class JournalFeed implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(JournalFeed.name);
  private readonly subscribers = new Set<Subscriber>();
  private lastSeq = '0';
  private started = false;
  private stopped = false;
  private pumping = false;
  private again = false;
  /** The highest seq known to be committed without reading it (bus entries, NOTIFY payloads). */
  private hint: string | undefined;
  /**
   * The highest seq known to be committed, read or not; unlike the hint never cleared. A live
   * subscriber starts here, so a change acknowledged before it subscribed is not delivered to it
   * late, while the feed is still reading that change.
   */
  private known = '0';
  private readonly listener: PgListener;
  private pumpRetry?: NodeJS.Timeout;
  private unsubscribeBus?: () => void;
  private readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(
    @Inject(JournalService) private readonly journal: JournalService,
    @Inject(TwinEventBus) private readonly bus: TwinEventBus,
    @Inject(DatabaseLocation) location: DatabaseLocation,
  ) {
    this.ready = new Promise((ok) => (this.markReady = ok));
    this.listener = new PgListener(
      {
        url: location.url,
        channel: JOURNAL_CHANNEL,
        applicationName: FEED_APPLICATION_NAME,
        label: 'journal',
        logger: this.logger,
      },
      {
        notice: (payload) => this.noticed(payload || undefined),
        // Whatever other replicas committed while we were deaf is in the journal: read it now.
        connected: () => this.trigger(),
      },
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    // Listen before reading the head: a commit between the two is then announced, not lost.
    await this.listener.start();
    this.unsubscribeBus = this.bus.subscribe((entries) => {
      // Known at once: a stream opened once the writer has its answer must not get these.
      const last = entries[entries.length - 1]?.seq;
      if (last !== undefined) this.noteCommitted(last);
      // Handed on after the writer has its answer: the fan-out must not delay it or the next write.
      setImmediate(() => this.committedHere(entries));
    });
    this.lastSeq = await this.journal.headSeq();
    this.noteCommitted(this.lastSeq);
    this.started = true;
    this.markReady();
    this.trigger();
  }

  // Module destroy runs before TypeORM closes its pool and before the embedded server stops.
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    this.unsubscribeBus?.();
    clearTimeout(this.pumpRetry);
    for (const s of [...this.subscribers]) s.close();
    await this.listener.stop();
  }

  /** The highest seq dispatched so far. */
  get head(): string {
    return this.lastSeq;
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.listener.listening;
  }

  subscribe(listener: FeedListener, options: FeedOptions = {}): FeedSubscription {
    const sub = new Subscriber(listener, options.from ?? this.liveStart, (s) => this.subscribers.delete(s));
    this.subscribers.add(sub);
    if (options.from === undefined && this.started) {
      sub.live = true;
    } else {
      this.replay(sub, options.from === undefined).catch((err: unknown) => {
        sub.close();
        if (options.onError) options.onError(err);
        else this.logger.error(`journal replay failed: ${describe(err)}`);
      });
    }
    return sub;
  }

  /** Reads the journal after the subscriber's cursor until it has caught up with the live feed. */
  private async replay(sub: Subscriber, fromHead: boolean): Promise<void> {
    await this.ready;
    if (fromHead) sub.cursor = this.liveStart;
    for (;;) {
      if (sub.closed) return;
      // Checked and switched without an await in between, so no live dispatch can slip past.
      if (!seqAfter(this.lastSeq, sub.cursor)) {
        sub.live = true;
        return;
      }
      const page = await this.journal.readAfter(sub.cursor, PAGE);
      if (sub.closed) return;
      if (page.length === 0) {
        // Only possible if rows vanished; live delivery still filters by the cursor.
        sub.live = true;
        return;
      }
      sub.cursor = page[page.length - 1].seq;
      await sub.listener(page);
    }
  }

  /** Where a subscriber without a replay seq starts: after every change known to be committed. */
  private get liveStart(): string {
    return seqAfter(this.known, this.lastSeq) ? this.known : this.lastSeq;
  }

  private noteCommitted(seq: string): void {
    if (seqAfter(seq, this.known)) this.known = seq;
  }

  /**
   * Entries this process has just committed (the event bus, right after the commit). When they
   * follow the feed's last seq with no gap they are dispatched as they are, in the form a read of
   * their rows gives, and the journal is not read back: the desired-state publisher always listens,
   * so otherwise every commit cost one more statement and the rows' parsing. Anything else (another
   * replica's or a policy's commit in between, a seq a rolled-back append drew, a read under way)
   * leaves it to reading from the last seq, as before.
   */
  private committedHere(entries: readonly JournalEntry[]): void {
    const last = entries[entries.length - 1]?.seq;
    if (last === undefined) return;
    if (this.started && !this.stopped && !this.pumping && continues(this.lastSeq, entries)) {
      this.lastSeq = last;
      if (this.subscribers.size > 0) this.dispatch(entries.map(asReadBack));
      return;
    }
    this.trigger(last);
  }

  private trigger(committed?: string): void {
    if (committed !== undefined) {
      this.noteCommitted(committed);
      if (this.hint === undefined || seqAfter(committed, this.hint)) this.hint = committed;
    }
    if (!this.started || this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    this.pump()
      .catch((err: unknown) => {
        if (this.stopped) return;
        this.logger.warn(`reading the journal failed, retrying: ${describe(err)}`);
        clearTimeout(this.pumpRetry);
        this.pumpRetry = setTimeout(() => this.trigger(), PUMP_RETRY_MS).unref();
      })
      .finally(() => {
        this.pumping = false;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      if (this.subscribers.size === 0) {
        await this.skipToHead();
        continue;
      }
      // Reading the rows moves past any hint; an old one must not be taken for the head later.
      this.hint = undefined;
      for (;;) {
        const page = await this.journal.readAfter(this.lastSeq, PAGE);
        if (this.stopped || page.length === 0) return;
        this.lastSeq = page[page.length - 1].seq;
        this.dispatch(page);
        if (page.length < PAGE) break;
      }
    } while (this.again && !this.stopped);
  }

  /**
   * With nobody to deliver to, the feed only keeps its position at the head, so that a later
   * live subscriber starts from then: reading every entry would cost the database and this
   * process as much as the writes themselves under ingest load. Commit order is seq order, so
   * a committed seq (from the bus or a NOTIFY) is a head with every smaller seq committed.
   */
  private async skipToHead(): Promise<void> {
    const head = this.hint ?? (await this.journal.headSeq());
    this.hint = undefined;
    if (seqAfter(head, this.lastSeq)) this.lastSeq = head;
  }

  private dispatch(entries: readonly JournalEntry[]): void {
    for (const sub of this.subscribers) {
      if (!sub.live || sub.closed) continue;
      const fresh = seqAfter(entries[0].seq, sub.cursor)
        ? entries
        : entries.filter((e) => seqAfter(e.seq, sub.cursor));
      if (fresh.length === 0) continue;
      sub.cursor = fresh[fresh.length - 1].seq;
      try {
        const pending = sub.listener(fresh);
        if (pending) pending.catch((err: unknown) => this.listenerFailed(err));
      } catch (err) {
        this.listenerFailed(err);
      }
    }
  }

  private listenerFailed(err: unknown): void {
    this.logger.error(`journal feed subscriber failed: ${describe(err)}`);
  }

  /** A commit's notice from the LISTEN connection, with the commit's highest seq. */
  private noticed(seq: string | undefined): void {
    const own = seq !== undefined && this.journal.appendedHere(seq);
    // Nothing to read if we are already past it.
    if (seq !== undefined && !seqAfter(seq, this.lastSeq)) return;
    if (own) {
      // This process's own commit, whose notice often overtakes the commit's answer: its
      // entries come from the bus. Read only if they have not come by then (the answer was lost).
      this.noteCommitted(seq);
      setTimeout(() => {
        if (seqAfter(seq, this.lastSeq)) this.trigger(seq);
      }, OWN_COMMIT_GRACE_MS).unref();
      return;
    }
    this.trigger(seq);
  }
}

/** True when the entries' seqs are the ones right after `last`, one by one. */
function continues(last: string, entries: readonly JournalEntry[]): boolean {
  let expected = BigInt(last);
  for (const e of entries) {
    expected += 1n;
    if (e.seq !== expected.toString()) return false;
  }
  return true;
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
