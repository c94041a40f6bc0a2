import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import type { ChangeOrigin } from './journal.types.js';

export interface PendingByNamespace {
  namespace: string;
  count: number;
  /** When the oldest of them was made (ISO 8601). */
  oldest: string;
}

/** Aggregates over the journal's tail, for consumers that report how far behind they are. */
@Injectable()
export class JournalStatsRepository {
  /** Thing changes only: policy changes are not synced to Ditto (yet). */
  async countAfter(tx: Tx, afterSeq: string, excludeOrigin: ChangeOrigin): Promise<PendingByNamespace[]> {
    const rows = await tx.query<{ namespace: string; n: string; oldest: Date }>(
      `SELECT split_part(thing_id, ':', 1) AS namespace, count(*) AS n, min(ts) AS oldest
       FROM journal WHERE seq > $1 AND origin <> $2 AND entity = 'thing' GROUP BY 1`,
      [afterSeq, excludeOrigin],
    );
    return rows.map((r) => ({ namespace: r.namespace, count: Number(r.n), oldest: r.oldest.toISOString() }));
  }
}
