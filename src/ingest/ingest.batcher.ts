import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { cappedBackoff, isDataError, retrying } from '../persistence/retry.js';
import type { InboundMessage } from './device-contract.js';
import { IngestStats } from './ingest-stats.js';
import { IngestWriter, NO_OUTCOME, type BatchOutcome } from './ingest.writer.js';

/** Sends the PUBACK of a message; called only after what the message carries has committed. */
export type Ack = () => void;

interface Pending {
  msg: InboundMessage;
  ack: Ack;
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;
/**
 * Batches committing at once. A batch first writes its own rows (dead letters, presence,
 * history), then changes its twins under their row locks. The next batch starts when the one
 * before it reaches its twins, so its parsing and history rows overlap their twin writes and
 * both this process and the database stay busy. More batches would only queue for the same row
 * locks, each holding a connection.
 */
const PIPELINE = 2;
/** On shutdown, what is queued is committed for at most this long before the batcher stops. */
export const STOP_DRAIN_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, Math.max(0, ms)).unref());

/**
 * Gathers messages for INGEST_BATCH_MS or until INGEST_BATCH_MAX of them (or INGEST_BATCH_MAX_BYTES
 * of payload), commits them (one transaction per lane, see commitLanes), then acknowledges them.
 * Batches are pipelined (see PIPELINE); messages arriving meanwhile form the next one, so
 * batches grow with load. Acknowledgements go out in the order
 * the messages came in, whichever batch commits first. A failed commit (database down) is
 * retried with capped backoff for as long as it takes: nothing is dropped and nothing is
 * acknowledged before it is stored, so the broker keeps redelivering what is outstanding.
 */
@Injectable()
export class IngestBatcher {
  private readonly logger = new Logger('Ingest');
  private readonly batchMs: number;
  private readonly batchMax: number;
  private readonly batchMaxBytes: number;
  private readonly lanes: number;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  /** A batch is still writing its own rows: the next one waits, and grows meanwhile. */
  private front = false;
  /** Settles when the acknowledgements of the latest batch started have gone out (or were given up). */
  private acked: Promise<void> = Promise.resolve();
  private committing = 0;
  private stopping = false;

  constructor(
    @Inject(IngestWriter) private readonly writer: IngestWriter,
    @Inject(IngestStats) private readonly stats: IngestStats,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.batchMs = config.get('INGEST_BATCH_MS');
    this.batchMax = config.get('INGEST_BATCH_MAX');
    this.batchMaxBytes = config.get('INGEST_BATCH_MAX_BYTES');
    this.lanes = config.get('INGEST_LANES');
    stats.pendingOf = () => this.pending;
  }

  submit(msg: InboundMessage, ack: Ack): void {
    this.stats.received++;
    this.queue.push({ msg, ack });
    this.queuedBytes += msg.payload.length;
    if (this.queue.length >= this.batchMax || this.queuedBytes >= this.batchMaxBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.batchMs);
  }

  /** Messages waiting or being committed; the broker still holds them unacknowledged. */
  get pending(): number {
    return this.queue.length + this.committing;
  }

  /**
   * Commits what was taken (for up to STOP_DRAIN_MS: the database may be away), lets running
   * commits finish (their acks go out); whatever is left stays unacknowledged and the broker
   * redelivers it to this replica's session. Called by the connection after it left the share
   * group, so nothing new arrives and a replica that stops for good leaves nothing behind.
   */
  async stop(): Promise<void> {
    const until = Date.now() + STOP_DRAIN_MS;
    while (this.queue.length > 0 && Date.now() < until) {
      this.flush();
      if (this.running.size === 0) break;
      await Promise.race([...this.running, sleep(until - Date.now())]);
    }
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running.size > 0) await Promise.all(this.running);
  }

  /** Starts the next batch if there is one and the pipeline has room; else a later event will. */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopping || this.queue.length === 0 || this.front || this.running.size >= PIPELINE) return;
    this.front = true;
    let inFront = true;
    const leaveFront = () => {
      if (!inFront) return;
      inFront = false;
      this.front = false;
      // What queued while this batch wrote its rows goes next, however little: waiting longer
      // would only add latency, as the next batch will queue for the twins' locks anyway.
      this.flush();
    };
    const run = this.process(this.takeBatch(), leaveFront);
    this.running.add(run);
    void run.finally(() => {
      this.running.delete(run);
      leaveFront();
      this.flush();
    });
  }

  /** The next batch: up to INGEST_BATCH_MAX messages and INGEST_BATCH_MAX_BYTES of payload, at least one. */
  private takeBatch(): Pending[] {
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < this.batchMax) {
      const size = this.queue[count].msg.payload.length;
      if (count > 0 && bytes + size > this.batchMaxBytes) break;
      bytes += size;
      count++;
    }
    this.queuedBytes -= bytes;
    return this.queue.splice(0, count);
  }

  private async process(batch: Pending[], onTwinPhase: () => void): Promise<void> {
    const before = this.acked;
    let release!: () => void;
    this.acked = new Promise((ok) => (release = ok));
    this.committing += batch.length;
    const started = performance.now();
    try {
      const outcome = await this.commitWithRetry(batch, onTwinPhase);
      await before;
      if (outcome) {
        for (const p of batch) p.ack();
        this.count(batch.length, outcome);
        this.stats.onBatchCommitted?.({
          messages: batch.length,
          commitSeconds: (performance.now() - started) / 1000,
          committedAt: Date.now(),
          receivedAt: batch.map((p) => p.msg.receivedAt),
        });
      }
    } catch (err) {
      this.logger.error(`ingest batch failed: ${describe(err)}`);
    } finally {
      this.committing -= batch.length;
      release();
    }
  }

  private async commitWithRetry(
    batch: Pending[],
    onTwinPhase: () => void,
  ): Promise<BatchOutcome | undefined> {
    try {
      return await this.commitLanes(
        batch.map((p) => p.msg),
        onTwinPhase,
      );
    } catch (err) {
      if (!this.stopping) throw err;
      // Back into the queue so nothing is lost track of; the broker redelivers after a restart.
      this.queue.unshift(...batch);
      for (const p of batch) this.queuedBytes += p.msg.payload.length;
      return undefined;
    }
  }

  /**
   * One transaction per lane, all at once: a thing's messages always share a lane, so the lanes'
   * twin writes never wait for each other's row locks, and one lane's writes overlap the other's
   * round trips. Each lane commits (and is retried) on its own; the batch is done when all are.
   */
  private async commitLanes(messages: InboundMessage[], onTwinPhase: () => void): Promise<BatchOutcome> {
    const lanes: InboundMessage[][] = Array.from({ length: this.lanes }, () => []);
    for (const msg of messages) lanes[laneOf(msg.topic, this.lanes)].push(msg);
    const used = lanes.filter((l) => l.length > 0);
    let inTwinPhase = 0;
    const reached = () => {
      if (++inTwinPhase === used.length) onTwinPhase();
    };
    // allSettled: a lane that failed must not leave the others running unwatched.
    const settled = await Promise.allSettled(used.map((lane) => this.isolating(lane, reached)));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<BatchOutcome>).value).reduce(combine, NO_OUTCOME);
  }

  /**
   * Commits the messages, retrying for as long as the database is away. If the database refuses
   * the data itself, the same batch would fail forever and hold up every message behind it: the
   * batch is split in halves until the message it cannot store is alone, which becomes a dead
   * letter; all the others are committed.
   */
  private async isolating(messages: InboundMessage[], onTwinPhase: () => void): Promise<BatchOutcome> {
    try {
      return await this.commitRetrying(messages.length, () => this.writer.commit(messages, onTwinPhase));
    } catch (err) {
      // RangeError: input nested beyond what recursive code can take (the contract should stop it).
      if (!(isDataError(err) || err instanceof RangeError) || this.stopping) throw err;
      this.stats.retries++;
      if (messages.length === 1) {
        this.logger.warn(`a message the database cannot store becomes a dead letter: ${describe(err)}`);
        return this.commitRetrying(1, () => this.writer.refuse(messages[0], err));
      }
      const half = Math.ceil(messages.length / 2);
      const first = await this.isolating(messages.slice(0, half), onTwinPhase);
      const second = await this.isolating(messages.slice(half), onTwinPhase);
      return combine(first, second);
    }
  }

  private commitRetrying(size: number, work: () => Promise<BatchOutcome>): Promise<BatchOutcome> {
    return retrying(work, {
      retryable: (err) => !this.stopping && !isDataError(err) && !(err instanceof RangeError),
      backoffMs: cappedBackoff(RETRY_FIRST_MS, RETRY_MAX_MS),
      onRetry: (err, attempt, wait) => {
        this.stats.retries++;
        const say = attempt === 1 || wait === RETRY_MAX_MS ? 'warn' : 'debug';
        this.logger[say](
          `committing a batch of ${size} messages failed (attempt ${attempt}), retrying in ${wait} ms: ${describe(err)}`,
        );
      },
    });
  }

  private count(messages: number, o: BatchOutcome): void {
    const s = this.stats;
    s.batches++;
    s.acknowledged += messages;
    s.committedReadings += o.newReadings;
    s.duplicates += o.duplicates;
    s.stale += o.stale;
    s.twinChanges += o.twinChanges;
    for (const reason of o.deadLetters) s.deadLetter(reason);
    // Each message ends as exactly one dead letter, ignored, or stored (see IngestStats.messages).
    s.ignored += o.ignored;
    s.stored += messages - o.deadLetters.length - o.ignored;
  }
}

/** All messages of one thing go to one lane; a topic outside `things/{id}/…` goes to the first. */
export function laneOf(topic: string, lanes: number): number {
  const end = topic.indexOf('/', 7);
  if (lanes === 1 || !topic.startsWith('things/') || end < 0) return 0;
  let hash = 0;
  for (let i = 7; i < end; i++) hash = (Math.imul(hash, 31) + topic.charCodeAt(i)) | 0;
  return (hash >>> 0) % lanes;
}

function combine(a: BatchOutcome, b: BatchOutcome): BatchOutcome {
  return {
    newReadings: a.newReadings + b.newReadings,
    duplicates: a.duplicates + b.duplicates,
    stale: a.stale + b.stale,
    twinChanges: a.twinChanges + b.twinChanges,
    deadLetters: [...a.deadLetters, ...b.deadLetters],
    ignored: a.ignored + b.ignored,
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
