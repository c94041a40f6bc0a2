import { Injectable } from '@nestjs/common';
import { takeDocJson } from './model/doc-json.js';
import type { Tx } from '../persistence/transaction.js';
import type { SearchRow, SqlQuery } from './search/index.js';
import type { CacheFit } from './search-cache.js';
import type { StoredThing, ThingDoc } from './twin.types.js';

interface ThingRow {
  thing_id: string;
  namespace: string;
  doc: ThingDoc;
  revision: string;
  /** ISO strings: every read here asks for `isoTimestamps`. */
  created_at: string;
  modified_at: string;
  metadata: Record<string, string> | null;
}

const COLUMNS = 'thing_id, namespace, doc, revision, created_at, modified_at, metadata';
/** COLUMNS for a read whose answer shows no metadata: the row keeps its shape, metadata empty. */
const COLUMNS_NO_METADATA =
  'thing_id, namespace, doc, revision, created_at, modified_at, NULL::jsonb AS metadata';

/** The fixed reads of things: prepared, their times as the ISO strings a StoredThing holds. */
const READ = { prepare: true, isoTimestamps: true } as const;

export function toStoredThing(r: Omit<ThingRow, 'doc'> & { doc: unknown }): StoredThing {
  return {
    thingId: r.thing_id,
    namespace: r.namespace,
    doc: r.doc as ThingDoc,
    revision: Number(r.revision),
    created: r.created_at,
    modified: r.modified_at,
    metadata: r.metadata ?? {},
  };
}

@Injectable()
export class TwinsRepository {
  /**
   * Row locks serialise every writer of a thing until its transaction ends. Locking in
   * thing_id order keeps two batches that share things from deadlocking. For a thing in
   * `known` at the revision the row has, the row's columns are not sent and the known state is
   * returned instead (see TwinCache); after waiting for a lock the row is its newest version,
   * so the revision compared is the one locked.
   */
  async lockMany(
    tx: Tx,
    thingIds: string[],
    known: ReadonlyMap<string, StoredThing> = new Map(),
  ): Promise<StoredThing[]> {
    if (known.size === 0) {
      const rows = await tx.query<ThingRow>(
        `SELECT ${COLUMNS} FROM things WHERE thing_id = ANY($1::text[]) ORDER BY thing_id FOR UPDATE`,
        [thingIds],
        READ,
      );
      return rows.map(toStoredThing);
    }
    const revisions = Object.fromEntries([...known].map(([id, t]) => [id, t.revision]));
    const rows = await tx.query<ThingRow & { hit: boolean }>(
      `SELECT thing_id, revision, hit,
              CASE WHEN hit THEN NULL ELSE namespace END AS namespace,
              CASE WHEN hit THEN NULL ELSE doc END AS doc,
              CASE WHEN hit THEN NULL ELSE created_at END AS created_at,
              CASE WHEN hit THEN NULL ELSE modified_at END AS modified_at,
              CASE WHEN hit THEN NULL ELSE metadata END AS metadata
       FROM (SELECT ${COLUMNS}, revision = ($2::jsonb ->> thing_id)::bigint AS hit
             FROM things WHERE thing_id = ANY($1::text[]) ORDER BY thing_id FOR UPDATE) locked
       ORDER BY thing_id`,
      [thingIds, JSON.stringify(revisions)],
      READ,
    );
    const states = rows.map((r) => (r.hit ? known.get(r.thing_id) : toStoredThing(r)));
    const lacking = rows.filter((r, i) => states[i]?.revision !== Number(r.revision)).map((r) => r.thing_id);
    if (lacking.length === 0) return states as StoredThing[];
    // Not expected (hit is computed on the locked version); read plainly, the rows are ours now.
    const fetched = new Map((await this.findMany(tx, lacking)).map((t) => [t.thingId, t]));
    return rows.flatMap((r, i) => {
      const state = states[i]?.revision === Number(r.revision) ? states[i] : fetched.get(r.thing_id);
      return state ? [state] : [];
    });
  }

  /** Length of the JSON a thing was last written as by this process, if it was. */
  writtenSize(thing: StoredThing): number | undefined {
    return writtenSizes.get(thing);
  }

  /** Returns the ids actually inserted: one missing means a concurrent transaction created it first. */
  async insertMany(tx: Tx, things: StoredThing[]): Promise<Set<string>> {
    if (things.length === 0) return new Set();
    const sorted = [...things].sort((a, b) => (a.thingId < b.thingId ? -1 : 1));
    const rows = await tx.query<{ thing_id: string }>(
      `INSERT INTO things (thing_id, namespace, policy_id, doc, revision, created_at, modified_at, metadata)
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS ${RECORD}
       ON CONFLICT (thing_id) DO NOTHING RETURNING thing_id`,
      [recordsJson(sorted)],
      { prepare: true },
    );
    return new Set(rows.map((r) => r.thing_id));
  }

  async updateMany(tx: Tx, things: StoredThing[]): Promise<void> {
    if (things.length === 0) return;
    await tx.query(
      `UPDATE things t SET namespace = u.namespace, policy_id = u.policy_id, doc = u.doc, revision = u.revision,
              created_at = u.created_at, modified_at = u.modified_at, metadata = u.metadata
       FROM jsonb_to_recordset($1::jsonb) AS ${RECORD}
       WHERE t.thing_id = u.thing_id`,
      [recordsJson(things)],
      { prepare: true },
    );
  }

  async removeMany(tx: Tx, thingIds: string[]): Promise<void> {
    if (thingIds.length === 0) return;
    await tx.query('DELETE FROM things WHERE thing_id = ANY($1::text[])', [thingIds], { prepare: true });
  }

  /** With `metadata: false` the thing comes back with empty metadata (see selectsMetadata). */
  async findOne(db: Tx, thingId: string, opts: { metadata?: boolean } = {}): Promise<StoredThing | null> {
    const columns = opts.metadata === false ? COLUMNS_NO_METADATA : COLUMNS;
    const rows = await db.query<ThingRow>(
      `SELECT ${columns} FROM things WHERE thing_id = $1`,
      [thingId],
      READ,
    );
    return rows[0] ? toStoredThing(rows[0]) : null;
  }

  async findMany(
    db: Tx,
    thingIds: readonly string[],
    opts: { metadata?: boolean } = {},
  ): Promise<StoredThing[]> {
    const columns = opts.metadata === false ? COLUMNS_NO_METADATA : COLUMNS;
    const rows = await db.query<ThingRow>(
      `SELECT ${columns} FROM things WHERE thing_id = ANY($1::text[])`,
      [thingIds],
      READ,
    );
    return rows.map(toStoredThing);
  }

  /**
   * Merges the search index's pending list into the index (PostgreSQL's GIN fast update: writes
   * append to that list, and whoever finds it over gin_pending_list_limit merges it all).
   * Returns the pages it removed from the list.
   */
  async mergeSearchIndexPending(db: Tx): Promise<number> {
    const rows = await db.query<{ pages: number }>(
      `SELECT gin_clean_pending_list('things_doc_idx'::regclass)::int AS pages`,
    );
    return rows[0]?.pages ?? 0;
  }

  /** PostgreSQL's cache and what reads by id and searches touch (see search-cache.ts). */
  async cacheFit(db: Tx): Promise<CacheFit> {
    const rows = await db.query<{ cache: string; data: string }>(
      `SELECT pg_size_bytes(current_setting('shared_buffers')) AS cache,
              pg_total_relation_size('things') + pg_total_relation_size('policies')
                + pg_total_relation_size('policy_readers') AS data`,
    );
    return { cacheBytes: Number(rows[0].cache), dataBytes: Number(rows[0].data) };
  }

  /** Runs a query compiled by the search module (it selects at least COLUMNS). */
  search(db: Tx, query: SqlQuery): Promise<SearchRow[]> {
    return db.query<SearchRow>(query.sql, query.params, {
      prepare: query.prepare && 'shape',
      isoTimestamps: true,
    });
  }

  async count(db: Tx, query: SqlQuery): Promise<number> {
    const rows = await db.query<{ count: string }>(query.sql, query.params);
    return Number(rows[0]?.count ?? 0);
  }
}

/**
 * The shape recordsJson() writes, as jsonb_to_recordset reads it: parsed once into jsonb, the
 * documents are then copied as they are rather than parsed again from text.
 */
const RECORD = `u(thing_id text, namespace text, policy_id text, doc jsonb, revision bigint,
                  created_at timestamptz, modified_at timestamptz, metadata jsonb)`;

/** Filled as things are serialized for writing, for the twin cache's budget. */
const writtenSizes = new WeakMap<StoredThing, number>();

/**
 * All rows as one JSON array: the driver sends one string made by the native JSON.stringify,
 * where a text array per column would escape every document element by element in JavaScript.
 */
function recordsJson(things: StoredThing[]): string {
  const rows = things.map((t) => {
    const head = JSON.stringify({
      thing_id: t.thingId,
      namespace: t.namespace,
      policy_id: t.doc.policyId,
      revision: t.revision,
      created_at: t.created,
      modified_at: t.modified,
      metadata: t.metadata,
    });
    // The document as its change serialized it to check its size.
    const row = `${head.slice(0, -1)},"doc":${takeDocJson(t.doc)}}`;
    writtenSizes.set(t, row.length);
    return row;
  });
  return `[${rows.join(',')}]`;
}
