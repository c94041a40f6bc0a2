import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import type { InboundMessage } from './device-contract.js';
import { IngestStats } from './ingest-stats.js';
import { IngestWriter, type BatchOutcome } from './ingest.writer.js';

/** Sends the PUBACK of a message; called only after what the message carries has committed. */
export type Ack = () => void;

interface Pending {
  msg: InboundMessage;
  ack: Ack;
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Gathers messages for INGEST_BATCH_MS or until INGEST_BATCH_MAX of them, commits them as one
 * transaction, then acknowledges them. One batch commits at a time; messages arriving
 * meanwhile form the next one, so batches grow with load. A failed commit (database down) is
 * retried with capped backoff for as long as it takes: nothing is dropped and nothing is
 * acknowledged before it is stored, so the broker keeps redelivering what is outstanding.
 */
@Injectable()
export class IngestBatcher {
  private readonly logger = new Logger('Ingest');
  private readonly batchMs: number;
  private readonly batchMax: number;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(
    @Inject(IngestWriter) private readonly writer: IngestWriter,
    @Inject(IngestStats) private readonly stats: IngestStats,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.batchMs = config.get('INGEST_BATCH_MS');
    this.batchMax = config.get('INGEST_BATCH_MAX');
  }

  submit(msg: InboundMessage, ack: Ack): void {
    this.stats.received++;
    this.queue.push({ msg, ack });
    if (this.queue.length >= this.batchMax) this.start();
    else this.timer ??= setTimeout(() => this.start(), this.batchMs);
  }

  /** Messages waiting or being committed; the broker still holds them unacknowledged. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Lets a running commit finish (its acks go out); what is queued stays unacknowledged and
   * the broker redelivers it. Called by the connection before it disconnects.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private start(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.stopping) return;
    this.running = this.drain()
      .catch((err: unknown) => this.logger.error(`ingest loop failed: ${describe(err)}`))
      .finally(() => {
        this.running = undefined;
        if (this.queue.length > 0 && !this.stopping) this.start();
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stopping) {
      const batch = this.queue.splice(0, this.batchMax);
      const outcome = await this.commitWithRetry(batch);
      if (!outcome) return;
      for (const p of batch) p.ack();
      this.count(batch.length, outcome);
    }
  }

  private async commitWithRetry(batch: Pending[]): Promise<BatchOutcome | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writer.commit(batch.map((p) => p.msg));
      } catch (err) {
        this.stats.retries++;
        const wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempt - 1));
        const say = attempt === 1 || wait === RETRY_MAX_MS ? 'warn' : 'debug';
        this.logger[say](
          `committing a batch of ${batch.length} messages failed (attempt ${attempt}), retrying in ${wait} ms: ${describe(err)}`,
        );
        await new Promise((ok) => setTimeout(ok, wait));
        if (this.stopping) {
          // Back into the queue so nothing is lost track of; the broker redelivers after a restart.
          this.queue.unshift(...batch);
          return undefined;
        }
      }
    }
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
    this.writer.memory.remember(o.presence, Date.now());
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
