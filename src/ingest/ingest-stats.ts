import { Injectable } from '@nestjs/common';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from './device-contract.js';

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
  private readonly dead = new Map<DeadLetterReason, number>();

  deadLetter(reason: DeadLetterReason): void {
    this.dead.set(reason, (this.dead.get(reason) ?? 0) + 1);
  }

  view(): IngestStatsView {
    const byReason = Object.fromEntries(DEAD_LETTER_REASONS.map((r) => [r, this.dead.get(r) ?? 0])) as Record<
      DeadLetterReason,
      number
    >;
    const total = [...this.dead.values()].reduce((a, b) => a + b, 0);
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
    };
  }
}
