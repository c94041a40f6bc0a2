import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';

export interface RetentionBatch {
  deleted: number;
  /** The highest seq the batch looked at; the next batch starts after it. */
  last: string | null;
  /** Every row of the batch was older than the cutoff, so rows after it may be too. */
  allOld: boolean;
}

@Injectable()
export class JournalRetentionRepository {
  /**
   * The journal seq no deletion may reach: the Ditto sync and the desired-state publisher resume
   * from their cursors, so rows after them are still owed to someone. `dittoSync`: the sync is
   * configured, so a missing cursor means it has pushed nothing yet.
   */
  async bound(tx: Tx, dittoSync: boolean): Promise<string> {
    const rows = await tx.query<{ bound: string }>(
      `SELECT least(
         (SELECT max(seq) FROM journal),
         CASE WHEN $1 THEN coalesce((SELECT cursor FROM ditto_sync_state WHERE name = 'ditto'), 0) END,
         (SELECT seq FROM ingest_desired_cursor)
       )::text AS bound`,
      [dittoSync],
    );
    return rows[0]?.bound ?? '0';
  }

  /**
   * Deletes the rows older than `cutoff` among the next `limit` rows in seq order after `after`
   * (up to `bound`), except each thing's and policy's newest row: it carries the revision a
   * re-created entity continues from, and the policy a deleted thing was governed by.
   */
  async deleteBatch(
    tx: Tx,
    after: string,
    bound: string,
    cutoff: Date,
    limit: number,
  ): Promise<RetentionBatch> {
    const rows = await tx.query<{ deleted: string; last: string | null; all_old: boolean | null }>(
      `WITH batch AS (
         SELECT seq, entity, thing_id, revision, ts FROM journal
         WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $4
       ),
       gone AS (
         DELETE FROM journal j USING batch b
         WHERE j.seq = b.seq AND b.ts < $3
           AND EXISTS (SELECT 1 FROM journal n
                       WHERE n.entity = b.entity AND n.thing_id = b.thing_id AND n.revision > b.revision)
         RETURNING j.seq
       )
       SELECT (SELECT count(*) FROM gone) AS deleted, (SELECT max(seq)::text FROM batch) AS last,
              (SELECT bool_and(ts < $3) FROM batch) AS all_old`,
      [after, bound, cutoff, limit],
    );
    const r = rows[0];
    return { deleted: Number(r.deleted), last: r.last, allOld: r.all_old === true };
  }

  /**
   * Snapshots no replay can start from any more: the journal rows right after them are gone. The
   * one just before a thing's oldest row stays, as the base its remaining history replays from.
   */
  async pruneSnapshots(tx: Tx): Promise<number> {
    const rows = await tx.query<{ n: string }>(
      `WITH gone AS (
         DELETE FROM thing_snapshots s
         WHERE s.revision < coalesce(
           (SELECT min(revision) FROM journal j WHERE j.entity = 'thing' AND j.thing_id = s.thing_id), 0) - 1
         RETURNING 1)
       SELECT count(*) AS n FROM gone`,
    );
    return Number(rows[0]?.n ?? 0);
  }
}
