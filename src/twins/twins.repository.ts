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
}

const COLUMNS = 'thing_id, namespace, doc, revision, created_at, modified_at';

export function toStoredThing(r: Omit<ThingRow, 'doc'> & { doc: unknown }): StoredThing {
  return {
    thingId: r.thing_id,
    namespace: r.namespace,
    doc: r.doc as ThingDoc,
    revision: Number(r.revision),
    created: r.created_at.toISOString(),
    modified: r.modified_at.toISOString(),
  };
}

@Injectable()
export class TwinsRepository {
  /** The row lock serialises every writer of one thing until its transaction ends. */
  async lockForUpdate(tx: Tx, thingId: string): Promise<StoredThing | null> {
    const rows = await tx.query<ThingRow>(`SELECT ${COLUMNS} FROM things WHERE thing_id = $1 FOR UPDATE`, [
      thingId,
    ]);
    return rows[0] ? toStoredThing(rows[0]) : null;
  }

  /** False when a concurrent transaction created the same thing first. */
  async insert(tx: Tx, t: StoredThing): Promise<boolean> {
    const rows = await tx.query(
      `INSERT INTO things (thing_id, namespace, policy_id, doc, revision, created_at, modified_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (thing_id) DO NOTHING RETURNING thing_id`,
      [t.thingId, t.namespace, t.doc.policyId, JSON.stringify(t.doc), t.revision, t.created, t.modified],
    );
    return rows.length === 1;
  }

  async update(tx: Tx, t: StoredThing): Promise<void> {
    await tx.query(
      `UPDATE things SET policy_id = $2, doc = $3, revision = $4, modified_at = $5 WHERE thing_id = $1`,
      [t.thingId, t.doc.policyId, JSON.stringify(t.doc), t.revision, t.modified],
    );
  }

  async remove(tx: Tx, thingId: string): Promise<void> {
    await tx.query('DELETE FROM things WHERE thing_id = $1', [thingId]);
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
