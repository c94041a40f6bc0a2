import { Injectable } from '@nestjs/common';
import { JOURNAL_COLUMNS, journalEntryOf, type JournalRow } from '../../journal/journal.repository.js';
import type { JournalEntry } from '../../journal/journal.types.js';
import type { Tx } from '../../persistence/transaction.js';
import type { LeafTimes } from '../metadata.js';
import type { ThingDoc } from '../twin.types.js';
import type { HistoricalState } from './replay.js';

/** The thing's newest journal row: its current revision and the policy that governs it now. */
export interface ThingHead {
  revision: number;
  policyId: string | null;
  /** The oldest revision the journal still holds (older ones went with JOURNAL_RETENTION_DAYS). */
  oldest: number;
}

/**
 * What historical reads need from the journal and the snapshot table. Every journal lookup here is
 * by (entity, thing_id, revision), the journal's unique index.
 */
@Injectable()
export class HistoryRepository {
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
    );
    return rows.map(journalEntryOf);
  }

  /** The newest snapshot at or before `revision`. */
  async snapshotAtOrBefore(tx: Tx, thingId: string, revision: number): Promise<HistoricalState | undefined> {
    const rows = await tx.query<{
      revision: string;
      doc: ThingDoc | null;
      created_at: Date | null;
      modified_at: Date;
      leaf_times: LeafTimes | null;
    }>(
      `SELECT revision, doc, created_at, modified_at, leaf_times FROM thing_snapshots
       WHERE thing_id = $1 AND revision <= $2 ORDER BY revision DESC LIMIT 1`,
      [thingId, revision],
    );
    const r = rows[0];
    return (
      r && {
        thingId,
        revision: Number(r.revision),
        doc: r.doc,
        created: r.created_at?.toISOString() ?? null,
        modified: r.modified_at.toISOString(),
        // NULL: written before times were kept, when no change before it had journaled any.
        metadata: r.leaf_times ?? {},
      }
    );
  }

  /** Snapshots never change (the journal rows they stand for do not), so a second writer is a no-op. */
  async saveSnapshots(tx: Tx, states: readonly HistoricalState[]): Promise<void> {
    if (states.length === 0) return;
    await tx.query(
      `INSERT INTO thing_snapshots (thing_id, revision, doc, created_at, modified_at, leaf_times)
       SELECT s.thing_id, s.revision, s.doc -> 0, s.created_at, s.modified_at, s.leaf_times
       FROM json_to_recordset($1::json)
            AS s(thing_id text, revision bigint, doc jsonb, created_at timestamptz, modified_at timestamptz,
                 leaf_times jsonb)
       ON CONFLICT (thing_id, revision) DO NOTHING`,
      [
        JSON.stringify(
          states.map((s) => ({
            thing_id: s.thingId,
            revision: s.revision,
            // Wrapped so that a missing thing stays SQL NULL and a document is stored as is.
            doc: s.doc === null ? null : [s.doc],
            created_at: s.created,
            modified_at: s.modified,
            leaf_times: s.metadata,
          })),
        ),
      ],
    );
  }
}
