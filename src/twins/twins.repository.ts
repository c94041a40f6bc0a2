import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import type { SearchRow, SqlQuery } from './search/index.js';
import type { StoredThing, ThingDoc } from './twin.types.js';

interface ThingRow {
  thing_id: string;
  namespace: string;
  doc: ThingDoc;
  revision: string;
  created_at: Date;
  modified_at: Date;
  metadata: Record<string, string> | null;
}

const COLUMNS = 'thing_id, namespace, doc, revision, created_at, modified_at, metadata';

export function toStoredThing(r: Omit<ThingRow, 'doc'> & { doc: unknown }): StoredThing {
  return {
    thingId: r.thing_id,
    namespace: r.namespace,
    doc: r.doc as ThingDoc,
    revision: Number(r.revision),
    created: r.created_at.toISOString(),
    modified: r.modified_at.toISOString(),
    metadata: r.metadata ?? {},
  };
}

@Injectable()
export class TwinsRepository {
  /**
   * Row locks serialise every writer of a thing until its transaction ends. Locking in
   * thing_id order keeps two batches that share things from deadlocking.
   */
  async lockMany(tx: Tx, thingIds: string[]): Promise<StoredThing[]> {
    const rows = await tx.query<ThingRow>(
      `SELECT ${COLUMNS} FROM things WHERE thing_id = ANY($1::text[]) ORDER BY thing_id FOR UPDATE`,
      [thingIds],
    );
    return rows.map(toStoredThing);
  }

  /** Returns the ids actually inserted: one missing means a concurrent transaction created it first. */
  async insertMany(tx: Tx, things: StoredThing[]): Promise<Set<string>> {
    if (things.length === 0) return new Set();
    const sorted = [...things].sort((a, b) => (a.thingId < b.thingId ? -1 : 1));
    const rows = await tx.query<{ thing_id: string }>(
      `INSERT INTO things (thing_id, namespace, policy_id, doc, revision, created_at, modified_at, metadata)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::bigint[], $6::timestamptz[], $7::timestamptz[], $8::jsonb[])
       ON CONFLICT (thing_id) DO NOTHING RETURNING thing_id`,
      columns(sorted),
    );
    return new Set(rows.map((r) => r.thing_id));
  }

  async updateMany(tx: Tx, things: StoredThing[]): Promise<void> {
    if (things.length === 0) return;
    await tx.query(
      `UPDATE things t SET namespace = u.namespace, policy_id = u.policy_id, doc = u.doc, revision = u.revision,
              created_at = u.created_at, modified_at = u.modified_at, metadata = u.metadata
       FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::bigint[], $6::timestamptz[], $7::timestamptz[], $8::jsonb[])
            AS u(thing_id, namespace, policy_id, doc, revision, created_at, modified_at, metadata)
       WHERE t.thing_id = u.thing_id`,
      columns(things),
    );
  }

  async removeMany(tx: Tx, thingIds: string[]): Promise<void> {
    if (thingIds.length === 0) return;
    await tx.query('DELETE FROM things WHERE thing_id = ANY($1::text[])', [thingIds]);
  }

  async findOne(db: Tx, thingId: string): Promise<StoredThing | null> {
    const rows = await db.query<ThingRow>(`SELECT ${COLUMNS} FROM things WHERE thing_id = $1`, [thingId]);
    return rows[0] ? toStoredThing(rows[0]) : null;
  }

  async findMany(db: Tx, thingIds: string[]): Promise<StoredThing[]> {
    const rows = await db.query<ThingRow>(`SELECT ${COLUMNS} FROM things WHERE thing_id = ANY($1::text[])`, [
      thingIds,
    ]);
    return rows.map(toStoredThing);
  }

  /** Runs a query compiled by the search module (it selects at least COLUMNS). */
  search(db: Tx, query: SqlQuery): Promise<SearchRow[]> {
    return db.query<SearchRow>(query.sql, query.params);
  }

  async count(db: Tx, query: SqlQuery): Promise<number> {
    const rows = await db.query<{ count: string }>(query.sql, query.params);
    return Number(rows[0]?.count ?? 0);
  }
}

function columns(things: StoredThing[]): unknown[] {
  return [
    things.map((t) => t.thingId),
    things.map((t) => t.namespace),
    things.map((t) => t.doc.policyId),
    things.map((t) => JSON.stringify(t.doc)),
    things.map((t) => t.revision),
    things.map((t) => t.created),
    things.map((t) => t.modified),
    things.map((t) => JSON.stringify(t.metadata)),
  ];
}
