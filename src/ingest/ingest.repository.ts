import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import type { DeadLetterReason } from './device-contract.js';

/**
 * A dead letter must always be storable, or the message it stands for would be neither stored
 * nor dead-lettered: NUL (which PostgreSQL text cannot hold) and unpaired surrogates (which
 * UTF-8 cannot encode) become U+FFFD. The raw bytes stay exact in the bytea payload.
 */
export function storableTextOf(s: string): string {
  return s.replace(
    /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    '\ufffd',
  );
}

export interface NewDeadLetter {
  receivedAt: number;
  topic: string;
  reason: DeadLetterReason;
  message: string;
  payload: Buffer;
  thingId: string | null;
}

export interface DeadLetterRow {
  id: string;
  receivedAt: Date;
  topic: string;
  reason: string;
  message: string;
  payload: Buffer;
  thingId: string | null;
}

export interface PresenceRow {
  thingId: string;
  /** Epoch ms of the latest message of the device (platform time). */
  lastSeen: number;
  online: boolean;
  /** Epoch ms of the message that set `online`. */
  stateAt: number;
}

/** The ingest's own tables: dead letters and device presence. */
@Injectable()
export class IngestRepository {
  async insertDeadLetters(tx: Tx, letters: NewDeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await tx.query(
      `INSERT INTO ingest_dead_letters (received_at, topic, reason, message, payload, thing_id)
       SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[])`,
      [
        letters.map((l) => new Date(l.receivedAt).toISOString()),
        letters.map((l) => storableTextOf(l.topic)),
        letters.map((l) => l.reason),
        letters.map((l) => storableTextOf(l.message)),
        letters.map((l) => l.payload),
        letters.map((l) => (l.thingId === null ? null : storableTextOf(l.thingId))),
      ],
    );
  }

  /** Newest first; `beforeId` is the id of the last row of the previous page. */
  async listDeadLetters(
    tx: Tx,
    opts: { limit: number; beforeId?: string; thingId?: string },
  ): Promise<DeadLetterRow[]> {
    const rows = await tx.query<{
      id: string;
      received_at: Date;
      topic: string;
      reason: string;
      message: string;
      payload: Buffer;
      thing_id: string | null;
    }>(
      `SELECT id, received_at, topic, reason, message, payload, thing_id FROM ingest_dead_letters
       WHERE ($1::bigint IS NULL OR id < $1::bigint) AND ($2::text IS NULL OR thing_id = $2::text)
       ORDER BY id DESC LIMIT $3`,
      [opts.beforeId ?? null, opts.thingId ?? null, opts.limit],
    );
    return rows.map((r) => ({
      id: r.id,
      receivedAt: r.received_at,
      topic: r.topic,
      reason: r.reason,
      message: r.message,
      payload: r.payload,
      thingId: r.thing_id,
    }));
  }

  /**
   * Dead letters received before `cutoff`, then the oldest beyond `maxBytes` in all (payload,
   * topic and message): the table stays bounded whatever devices send. Returns how many went.
   */
  async pruneDeadLetters(tx: Tx, cutoff: number, maxBytes: number): Promise<number> {
    const [aged] = await tx.query<{ n: number }>(
      `WITH gone AS (DELETE FROM ingest_dead_letters WHERE received_at < $1 RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [new Date(cutoff).toISOString()],
    );
    const [capped] = await tx.query<{ n: number }>(
      `WITH sized AS (
         SELECT id, sum(octet_length(payload) + octet_length(topic) + octet_length(message))
                  OVER (ORDER BY id DESC) AS newer_bytes
         FROM ingest_dead_letters),
       gone AS (DELETE FROM ingest_dead_letters
                WHERE id <= (SELECT max(id) FROM sized WHERE newer_bytes > $1) RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [maxBytes],
    );
    return aged.n + capped.n;
  }

  /** The journal seq up to which desired state has been published (see DesiredPublisher). */
  async desiredCursor(tx: Tx): Promise<string | undefined> {
    const rows = await tx.query<{ seq: string }>(`SELECT seq::text AS seq FROM ingest_desired_cursor`);
    return rows[0]?.seq;
  }

  /** Moves the cursor forward only: replicas publish the same feed and may report out of order. */
  async saveDesiredCursor(tx: Tx, seq: string): Promise<void> {
    await tx.query(
      `INSERT INTO ingest_desired_cursor (id, seq) VALUES (true, $1::bigint)
       ON CONFLICT (id) DO UPDATE SET seq = greatest(ingest_desired_cursor.seq, excluded.seq)`,
      [seq],
    );
  }

  /** Things with desired properties in some feature, after `afterId`, in id order. */
  async thingsWithDesired(tx: Tx, afterId: string, limit: number): Promise<string[]> {
    const rows = await tx.query<{ thing_id: string }>(
      `SELECT thing_id FROM things
       WHERE thing_id > $1 AND jsonb_path_exists(doc, '$.features.*.desiredProperties')
       ORDER BY thing_id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((r) => r.thing_id);
  }

  /** Locks the presence rows of the things (in id order, as every writer does). */
  async lockPresence(tx: Tx, thingIds: string[]): Promise<PresenceRow[]> {
    if (thingIds.length === 0) return [];
    const rows = await selectPresenceForUpdate(tx, thingIds);
    const found = new Set(rows.map((r) => r.thingId));
    const missing = thingIds.filter((id) => !found.has(id));
    if (missing.length === 0) return rows;
    // A device seen for the first time has no row to lock, and the batch ahead of this one (the
    // ingest pipelines them) or another replica may have inserted it without committing yet:
    // invisible here, so both would decide it came online and journal that twice. A lock named
    // after the thing makes this batch wait for that one; the next statement then sees its row.
    // Taken in one order (the subquery sorts before the locking projection) so batches never deadlock.
    await tx.query(
      `SELECT pg_advisory_xact_lock(${PRESENCE_LOCK_CLASS}, h)
       FROM (SELECT DISTINCT hashtext(id) AS h FROM unnest($1::text[]) AS id ORDER BY h OFFSET 0) ordered`,
      [missing],
    );
    return [...rows, ...(await selectPresenceForUpdate(tx, missing))];
  }

  /**
   * Rows of things seen for the first time may race with another replica's insert: the
   * conflict branch then keeps whichever state is newer and the latest last_seen.
   */
  async writePresence(tx: Tx, rows: PresenceRow[]): Promise<void> {
    if (rows.length === 0) return;
    const sorted = [...rows].sort((a, b) => (a.thingId < b.thingId ? -1 : 1));
    await tx.query(
      `INSERT INTO ingest_presence AS p (thing_id, last_seen, state, state_at)
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::timestamptz[])
       ON CONFLICT (thing_id) DO UPDATE SET
         last_seen = greatest(p.last_seen, excluded.last_seen),
         state = CASE WHEN excluded.state_at >= p.state_at THEN excluded.state ELSE p.state END,
         state_at = greatest(p.state_at, excluded.state_at)`,
      [
        sorted.map((r) => r.thingId),
        sorted.map((r) => new Date(r.lastSeen).toISOString()),
        sorted.map((r) => (r.online ? 'online' : 'offline')),
        sorted.map((r) => new Date(r.stateAt).toISOString()),
      ],
    );
  }

  /** Marks offline the devices online but silent since `cutoff`; returns them (claimed once). */
  async claimInactive(tx: Tx, cutoff: number, now: number, limit: number): Promise<string[]> {
    const rows = await tx.query<{ thing_id: string }>(
      // As a CTE so the driver returns rows (TypeORM answers a bare UPDATE with [rows, count]).
      `WITH claimed AS (
         UPDATE ingest_presence SET state = 'offline', state_at = $2
         WHERE thing_id IN (
           SELECT thing_id FROM ingest_presence WHERE state = 'online' AND last_seen < $1
           ORDER BY thing_id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING thing_id)
       SELECT thing_id FROM claimed`,
      [new Date(cutoff).toISOString(), new Date(now).toISOString(), limit],
    );
    return rows.map((r) => r.thing_id);
  }
}

/** The first key of the presence locks (two-key advisory locks: apart from one-key ones). */
const PRESENCE_LOCK_CLASS = 0x70726573; // "pres"

async function selectPresenceForUpdate(tx: Tx, thingIds: string[]): Promise<PresenceRow[]> {
  const rows = await tx.query<{ thing_id: string; last_seen: Date; state: string; state_at: Date }>(
    `SELECT thing_id, last_seen, state, state_at FROM ingest_presence
     WHERE thing_id = ANY($1::text[]) ORDER BY thing_id FOR UPDATE`,
    [thingIds],
  );
  return rows.map((r) => ({
    thingId: r.thing_id,
    lastSeen: r.last_seen.getTime(),
    online: r.state === 'online',
    stateAt: r.state_at.getTime(),
  }));
}
