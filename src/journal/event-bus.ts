import { Injectable, Logger } from '@nestjs/common';
import type { JournalEntry } from './journal.types.js';

export type JournalListener = (entries: readonly JournalEntry[]) => void | Promise<void>;

/**
 * In-process fan-out of committed journal entries, in commit order. A listener's failure is
 * logged and never reaches the writer: the change is already committed and the journal
 * stays the source to catch up from.
 */
@Injectable()
export class TwinEventBus {
  private readonly logger = new Logger(TwinEventBus.name);
  private readonly listeners = new Set<JournalListener>();

  subscribe(listener: JournalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(entries: readonly JournalEntry[]): void {
    if (entries.length === 0) return;
    for (const listener of this.listeners) {
      try {
        const pending = listener(entries);
        if (pending) pending.catch((err: unknown) => this.report(err));
      } catch (err) {
        this.report(err);
      }
    }
  }

  private report(err: unknown): void {
    this.logger.error(
      `journal listener failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  }
}
