import type { JournalEntry } from '../journal/journal.types.js';

/** Correlation ids of own writes remembered for suppressing their events (bounded). */
const MAX_OWN = 10_000;

/**
 * The changes a `/ws/2` session's own commands made, so that it does not receive their events:
 * their correlation ids are remembered while they run, and the journal seq of the change once it
 * committed.
 */
export class OwnChanges {
  private readonly inFlight = new Map<string, number>();
  /** Seqs of own changes whose events have not arrived yet. */
  private readonly ownSeqs = new Set<string>();
  /** Seqs of own changes whose events arrived while the command was still running. */
  private readonly earlySeqs = new Set<string>();

  begin(correlationId: string): void {
    this.inFlight.set(correlationId, (this.inFlight.get(correlationId) ?? 0) + 1);
  }

  /** Without an event stream (`streaming` false) no event will come to take the seq away again. */
  settle(correlationId: string, seq: string | undefined, streaming: boolean): void {
    const n = (this.inFlight.get(correlationId) ?? 1) - 1;
    if (n > 0) this.inFlight.set(correlationId, n);
    else this.inFlight.delete(correlationId);
    if (seq === undefined || this.earlySeqs.delete(seq) || !streaming) return;
    this.ownSeqs.add(seq);
    if (this.ownSeqs.size > MAX_OWN) this.ownSeqs.delete(this.ownSeqs.values().next().value!);
  }

  isOwn(e: JournalEntry): boolean {
    if (this.ownSeqs.delete(e.seq)) return true;
    if (e.origin !== 'ws' || e.correlationId === null || !this.inFlight.has(e.correlationId)) return false;
    this.earlySeqs.add(e.seq);
    if (this.earlySeqs.size > MAX_OWN) this.earlySeqs.delete(this.earlySeqs.values().next().value!);
    return true;
  }
}
