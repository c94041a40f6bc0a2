import { Injectable } from '@nestjs/common';
import type { Tx } from '../../persistence/transaction.js';
import type { LeafTimes } from '../metadata.js';
import type { ThingDoc } from '../twin.types.js';
import type { HistoricalState } from './replay.js';

/** The snapshot table of historical reads; the journal itself is read through JournalService. */
@Injectable()
export class HistoryRepository {
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
