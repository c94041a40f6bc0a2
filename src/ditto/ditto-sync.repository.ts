import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';

export interface ThingSyncError {
  thingId: string;
  revision: number;
  status: number;
  error: string;
  message: string;
  description?: string;
  at: string;
}

/** What one flush persists: the cursor, per-thing progress and errors, the status snapshot. */
export interface SyncCheckpoint {
  cursor: string;
  synced: Map<string, number>;
  /** null clears the thing's error. */
  errors: Map<string, ThingSyncError | null>;
  status: unknown;
}

const STATE = 'ditto';

@Injectable()
export class DittoSyncRepository {
  async cursor(tx: Tx): Promise<string> {
    const rows = await tx.query<{ cursor: string }>(`SELECT cursor FROM ditto_sync_state WHERE name = $1`, [
      STATE,
    ]);
    return rows[0]?.cursor ?? '0';
  }

  async status(tx: Tx): Promise<{ status: unknown; updatedAt: string } | null> {
    const rows = await tx.query<{ status: unknown; updated_at: Date }>(
      `SELECT status, updated_at FROM ditto_sync_state WHERE name = $1`,
      [STATE],
    );
    return rows[0] ? { status: rows[0].status, updatedAt: rows[0].updated_at.toISOString() } : null;
  }

  async syncedRevisions(tx: Tx, thingIds: string[]): Promise<Map<string, number>> {
    if (thingIds.length === 0) return new Map();
    const rows = await tx.query<{ thing_id: string; synced_revision: string }>(
      `SELECT thing_id, synced_revision FROM ditto_sync_things WHERE thing_id = ANY($1::text[])`,
      [thingIds],
    );
    return new Map(rows.map((r) => [r.thing_id, Number(r.synced_revision)]));
  }

  async failing(tx: Tx, limit: number): Promise<{ total: number; things: ThingSyncError[] }> {
    const rows = await tx.query<{ error: ThingSyncError; total: string }>(
      `SELECT error, count(*) OVER () AS total FROM ditto_sync_things
       WHERE error IS NOT NULL ORDER BY error_at DESC LIMIT $1`,
      [limit],
    );
    return { total: rows.length > 0 ? Number(rows[0].total) : 0, things: rows.map((r) => r.error) };
  }

  async save(tx: Tx, c: SyncCheckpoint): Promise<void> {
    await tx.query(
      `INSERT INTO ditto_sync_state (name, cursor, status, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (name) DO UPDATE SET cursor = EXCLUDED.cursor, status = EXCLUDED.status, updated_at = now()`,
      [STATE, c.cursor, JSON.stringify(c.status)],
    );
    if (c.synced.size > 0) {
      await tx.query(
        `INSERT INTO ditto_sync_things (thing_id, synced_revision)
         SELECT * FROM unnest($1::text[], $2::bigint[])
         ON CONFLICT (thing_id) DO UPDATE
           SET synced_revision = GREATEST(ditto_sync_things.synced_revision, EXCLUDED.synced_revision)`,
        [[...c.synced.keys()], [...c.synced.values()]],
      );
    }
    if (c.errors.size > 0) {
      const ids = [...c.errors.keys()];
      await tx.query(
        `INSERT INTO ditto_sync_things (thing_id, synced_revision, error, error_at)
         SELECT e.id, 0, e.err, CASE WHEN e.err IS NULL THEN NULL ELSE now() END
         FROM unnest($1::text[], $2::jsonb[]) AS e(id, err)
         ON CONFLICT (thing_id) DO UPDATE SET error = EXCLUDED.error, error_at = EXCLUDED.error_at`,
        [
          ids,
          ids.map((id) => {
            const err = c.errors.get(id);
            return err ? JSON.stringify(err) : null;
          }),
        ],
      );
    }
  }
}
