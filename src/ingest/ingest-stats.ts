import { Injectable } from '@nestjs/common';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from './device-contract.js';

/** Why the embedded broker refused a PUBLISH outright (the connection is closed, nothing acked). */
export const REFUSAL_REASONS = ['packet_too_large', 'retained_per_device', 'retained_total'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface IngestStatsView {
  brokerConnected: boolean;
  brokerUrl: string | null;
  /** Messages taken from the broker (redeliveries count again). */
  received: number;
  /** Messages acknowledged after their batch committed. */
  acknowledged: number;
  /** Readings that were new and went into history (and to the twins unless stale). */
  committedReadings: number;
  /** Readings already in history (broker redeliveries, device retries). */
  duplicates: number;
  /** Leaves not applied to a twin because it already held a newer value (still in history). */
  stale: number;
  /** Journal entries the batches produced. */
  twinChanges: number;
  batches: number;
  /** Batch commits that failed and were retried. */
  retries: number;
  deadLetters: Record<DeadLetterReason, number> & { total: number };
  devicesMarkedOffline: number;
  desiredPublished: number;
  /** Embedded broker: CONNECTs refused (no or wrong credentials, taken client id, foreign Last Will). */
  refusedConnects: number;
  /** Embedded broker: PUBLISHes outside the client's own topics (the connection is closed). */
  refusedPublishes: number;
  /** Embedded broker: subscriptions outside the client's own topics (granted 0x80). */
  refusedSubscribes: number;
  /**
   * Every message the ingest saw ends in exactly one of these, so
   * received = stored + ignored + deadLettered + refused + pending (redeliveries count again).
   * stored: committed (readings new or already in history, status, commands); ignored: nothing
   * to store (desired state echoed back, a retained status replayed); pending: not committed yet.
   */
  messages: {
    received: number;
    stored: number;
    ignored: number;
    deadLettered: number;
    refused: number;
    pending: number;
  };
  refused: Record<RefusalReason, number> & { total: number };
  /** Messages that waited because their device already had MQTT_MAX_INFLIGHT_PER_DEVICE in the ingest. */
  throttled: number;
  /** Dead letters deleted by DEAD_LETTER_RETENTION_DAYS or DEAD_LETTER_MAX_BYTES. */
  deadLettersPruned: number;
}

export interface CommittedBatch {
  messages: number;
  commitSeconds: number;
  committedAt: number;
  receivedAt: readonly number[];
}

/** Counters of this replica since it started; no metrics library, so they live here. */
@Injectable()
export class IngestStats {
  brokerConnected = false;
  brokerUrl: string | null = null;
  received = 0;
  acknowledged = 0;
  committedReadings = 0;
  duplicates = 0;
  stale = 0;
  twinChanges = 0;
  batches = 0;
  retries = 0;
  devicesMarkedOffline = 0;
  desiredPublished = 0;
  refusedConnects = 0;
  refusedPublishes = 0;
  refusedSubscribes = 0;
  stored = 0;
  ignored = 0;
  throttled = 0;
  deadLettersPruned = 0;
  /** Messages taken but not committed yet (the batcher's count). */
  pendingOf: () => number = () => 0;
  /**
   * Told of every committed batch (metrics/ keeps histograms of it): its size in messages, how
   * long its commit took, and when this process got each of its messages (epoch ms).
   */
  onBatchCommitted?: (batch: CommittedBatch) => void;
  private readonly dead = new Map<DeadLetterReason, number>();
  private readonly refusals = new Map<RefusalReason, number>();

  /** A PUBLISH the embedded broker refused: seen (received) and refused. */
  refuse(reason: RefusalReason): void {
    this.received++;
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }

  deadLetter(reason: DeadLetterReason): void {
    this.dead.set(reason, (this.dead.get(reason) ?? 0) + 1);
  }

  view(): IngestStatsView {
    const byReason = Object.fromEntries(DEAD_LETTER_REASONS.map((r) => [r, this.dead.get(r) ?? 0])) as Record<
      DeadLetterReason,
      number
    >;
    const total = [...this.dead.values()].reduce((a, b) => a + b, 0);
    const refused = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, this.refusals.get(r) ?? 0])) as Record<
      RefusalReason,
      number
    >;
    const refusedTotal = [...this.refusals.values()].reduce((a, b) => a + b, 0);
    return {
      brokerConnected: this.brokerConnected,
      brokerUrl: this.brokerUrl,
      received: this.received,
      acknowledged: this.acknowledged,
      committedReadings: this.committedReadings,
      duplicates: this.duplicates,
      stale: this.stale,
      twinChanges: this.twinChanges,
      batches: this.batches,
      retries: this.retries,
      deadLetters: { ...byReason, total },
      devicesMarkedOffline: this.devicesMarkedOffline,
      desiredPublished: this.desiredPublished,
      refusedConnects: this.refusedConnects,
      refusedPublishes: this.refusedPublishes,
      refusedSubscribes: this.refusedSubscribes,
      messages: {
        stored: this.stored,
        ignored: this.ignored,
        deadLettered: total,
        // The access hooks' refusals are PUBLISHes the ingest never took: seen and refused.
        received: this.received + this.refusedPublishes,
        refused: refusedTotal + this.refusedPublishes,
        pending: this.pendingOf(),
      },
      refused: { ...refused, total: refusedTotal },
      throttled: this.throttled,
      deadLettersPruned: this.deadLettersPruned,
    };
  }
}
