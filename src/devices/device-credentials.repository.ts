import { Inject, Injectable } from '@nestjs/common';
import { TransactionRunner } from '../persistence/transaction.js';

export interface CredentialsRow {
  thingId: string;
  secretHash: string;
  /** The hash before the last rotation while it is still valid, else null. */
  previousHash: string | null;
  previousUntil: Date | null;
  created: Date;
  rotated: Date | null;
}

interface Row {
  thing_id: string;
  secret_hash: string;
  previous_hash: string | null;
  previous_until: Date | null;
  created_at: Date;
  rotated_at: Date | null;
}

/** device_credentials: one row per device, the current hash and the previous one in its grace period. */
@Injectable()
export class DeviceCredentialsRepository {
  constructor(@Inject(TransactionRunner) private readonly tx: TransactionRunner) {}

  async find(thingId: string): Promise<CredentialsRow | undefined> {
    const rows = await this.tx.db.query<Row>(
      `SELECT thing_id, secret_hash,
              CASE WHEN previous_until > now() THEN previous_hash END AS previous_hash,
              CASE WHEN previous_until > now() THEN previous_until END AS previous_until,
              created_at, rotated_at
       FROM device_credentials WHERE thing_id = $1`,
      [thingId],
    );
    return rows[0] && toRow(rows[0]);
  }

  /**
   * Sets the hashes of several devices at once. An existing device's current hash becomes its
   * previous one, valid `graceSeconds` more (none with 0). Returns the ids that were new. Fails
   * with a foreign-key violation (23503) when a thing does not exist (any more).
   */
  async upsert(entries: { thingId: string; hash: string }[], graceSeconds: number): Promise<Set<string>> {
    if (entries.length === 0) return new Set();
    const rows = await this.tx.db.query<{ thing_id: string; inserted: boolean }>(
      `INSERT INTO device_credentials (thing_id, secret_hash)
       SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (thing_id) DO UPDATE SET
         previous_hash  = CASE WHEN $3::int > 0 THEN device_credentials.secret_hash END,
         previous_until = CASE WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) END,
         secret_hash    = EXCLUDED.secret_hash,
         rotated_at     = now()
       RETURNING thing_id, (xmax = 0) AS inserted`,
      [entries.map((e) => e.thingId), entries.map((e) => e.hash), graceSeconds],
    );
    return new Set(rows.filter((r) => r.inserted).map((r) => r.thing_id));
  }

  /** True when there were credentials to delete. */
  async delete(thingId: string): Promise<boolean> {
    const rows = await this.tx.db.query(
      'DELETE FROM device_credentials WHERE thing_id = $1 RETURNING thing_id',
      [thingId],
    );
    return rows.length === 1;
  }
}

function toRow(r: Row): CredentialsRow {
  return {
    thingId: r.thing_id,
    secretHash: r.secret_hash,
    previousHash: r.previous_hash,
    previousUntil: r.previous_until,
    created: r.created_at,
    rotated: r.rotated_at,
  };
}
