import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import { JOURNAL_COLUMNS, journalEntryOf, type JournalRow } from './journal.repository.js';
import type { JournalEntry } from './journal.types.js';

/** The thing's newest journal row: its current revision and the policy that governs it now. */
export interface ThingHead {
  revision: number;
  policyId: string | null;
  /** The oldest revision the journal still holds (older ones went with JOURNAL_RETENTION_DAYS). */
  oldest: number;
}

/**
 * A thing's journal for historical reads (Ditto's history API). Every lookup is by (entity,
 * thing_id, revision), the journal's unique index.
 */
@Injectable()
export class JournalHistoryRepository {
  async head(tx: Tx, thingId: string): Promise<ThingHead | undefined> {
    const rows = await tx.query<{ revision: string; policy_id: string | null; oldest: string }>(
      `SELECT h.revision, h.policy_id,
              (SELECT min(revision) FROM journal WHERE entity = 'thing' AND thing_id = $1) AS oldest
       FROM journal h WHERE h.entity = 'thing' AND h.thing_id = $1 ORDER BY h.revision DESC LIMIT 1`,
      [thingId],
    );
    const r = rows[0];
    return r && { revision: Number(r.revision), policyId: r.policy_id, oldest: Number(r.oldest) };
  }

  /**
   * The newest revision written at or before `at`. The backward scan of the thing's revisions stops
   * at the first match, so recent timestamps are cheap; a per-thing time index would speed old ones
   * up but cost every journal append.
   */
  async revisionAt(tx: Tx, thingId: string, at: string): Promise<number | undefined> {
    const rows = await tx.query<{ revision: string }>(
      `SELECT revision FROM journal WHERE entity = 'thing' AND thing_id = $1 AND ts <= $2
       ORDER BY revision DESC LIMIT 1`,
      [thingId, at],
    );
    return rows[0] ? Number(rows[0].revision) : undefined;
  }

  /** The first revision written after `at`, for a range that starts at a time. */
  async revisionAfter(tx: Tx, thingId: string, at: string): Promise<number | undefined> {
    const rows = await tx.query<{ revision: string }>(
      `SELECT revision FROM journal WHERE entity = 'thing' AND thing_id = $1 AND ts >= $2
       ORDER BY revision LIMIT 1`,
      [thingId, at],
    );
    return rows[0] ? Number(rows[0].revision) : undefined;
  }

  /** Entries with revisions in (after, upTo], in revision order, at most `limit`. */
  async entries(
    tx: Tx,
    thingId: string,
    after: number,
    upTo: number,
    limit: number,
  ): Promise<JournalEntry[]> {
    const rows = await tx.query<JournalRow>(
      `SELECT ${JOURNAL_COLUMNS} FROM journal
       WHERE entity = 'thing' AND thing_id = $1 AND revision > $2 AND revision <= $3
       ORDER BY revision LIMIT $4`,
      [thingId, after, upTo, limit],
      { isoTimestamps: true },
    );
    return rows.map(journalEntryOf);
  }
}
