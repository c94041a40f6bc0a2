import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import type { JournalEntry, NewJournalEntry } from './journal.types.js';

/**
 * Any constant works; it only has to be the same for every writer. Holding it from the
 * moment seqs are drawn until commit makes commit order equal seq order, so a reader
 * that has seen N can never later find a smaller committed seq.
 */
const JOURNAL_APPEND_LOCK = 0x7477696e; // "twin"

/** The NOTIFY channel that announces new journal rows to every listening replica. */
export const JOURNAL_CHANNEL = 'twin_journal';

/** A journal row as PostgreSQL returns it; `journalEntryOf` makes it an entry. */
/** The columns a JournalRow holds, in the order every reader selects them. */
export const JOURNAL_COLUMNS =
  'seq, entity, thing_id, policy_id, revision, action, path, value, leaf_times, ts, origin, correlation_id';

export interface JournalRow {
  seq: string;
  entity: 'thing' | 'policy';
  thing_id: string;
  policy_id: string | null;
  revision: string;
  action: JournalEntry['action'];
  path: string;
  value: unknown;
  leaf_times: Record<string, string> | null;
  /** An ISO string: every read of rows asks for `isoTimestamps`. */
  ts: string;
  origin: JournalEntry['origin'];
  correlation_id: string | null;
}

@Injectable()
export class JournalRepository {
  /**
   * Must be the transaction's last statement: the lock is held until commit. One statement
   * takes the lock, appends and notifies: seqs are drawn in the projection above the join with
   * the lock's row, so never before the lock is held. The entries go in as one JSON array and
   * their seqs come back as one string, far cheaper for the driver than a text array per column
   * and a row per entry.
   */
  async append(tx: Tx, entries: NewJournalEntry[]): Promise<JournalEntry[]> {
    if (entries.length === 0) return [];
    const written = entriesJson(entries);
    const rows = await tx.query<{ seqs: string }>(
      `WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock($2)),
       appended AS (
         INSERT INTO journal (seq, entity, thing_id, policy_id, revision, action, path, value, leaf_times, ts, origin,
                correlation_id)
         SELECT nextval('journal_seq'), coalesce(e.entity, 'thing'), e.thing_id, e.policy_id, e.revision, e.action,
                e.path, e.value -> 0, e.leaf_times, e.ts, e.origin, e.correlation_id
         FROM locked, ROWS FROM (json_to_recordset($1::json) AS (entity text, thing_id text, policy_id text,
                revision bigint, action text, path text, value jsonb, leaf_times jsonb, ts timestamptz, origin text,
                correlation_id text))
              WITH ORDINALITY AS e(entity, thing_id, policy_id, revision, action, path, value, leaf_times, ts, origin,
                correlation_id, n)
         ORDER BY e.n
         RETURNING seq
       )
       -- Delivered at commit and only if it commits: other replicas LISTEN and read the journal from
       -- their last seq, so the payload (the highest seq) is a hint, never the data.
       SELECT string_agg(seq::text, ',' ORDER BY seq) AS seqs, pg_notify('${JOURNAL_CHANNEL}', max(seq)::text)
       FROM appended`,
      [written.json, JOURNAL_APPEND_LOCK],
      { prepare: true },
    );
    // Seqs are drawn in entry order under the lock, so ascending seq is entry order.
    const seqs = rows[0].seqs.split(',');
    return entries.map((e, i) => {
      const entry = { ...e, seq: seqs[i] };
      appendedJson.set(entry, written.parts[i]);
      return entry;
    });
  }

  /**
   * The highest revision each thing (or policy) ever had, so a re-created one continues its
   * revisions.
   */
  async lastRevisions(
    tx: Tx,
    thingIds: string[],
    entity: 'thing' | 'policy' = 'thing',
  ): Promise<Map<string, number>> {
    if (thingIds.length === 0) return new Map();
    const rows = await tx.query<{ thing_id: string; r: string }>(
      `SELECT thing_id, max(revision) AS r FROM journal
       WHERE entity = $2 AND thing_id = ANY($1::text[]) GROUP BY thing_id`,
      [thingIds, entity],
    );
    return new Map(rows.map((row) => [row.thing_id, Number(row.r)]));
  }

  async readAfter(tx: Tx, afterSeq: string, limit: number): Promise<JournalEntry[]> {
    const rows = await tx.query<JournalRow>(
      `SELECT ${JOURNAL_COLUMNS}
       FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [afterSeq, limit],
      { prepare: true, isoTimestamps: true },
    );
    return rows.map(journalEntryOf);
  }

  async readThing(tx: Tx, thingId: string, fromRevision: number, limit: number): Promise<JournalEntry[]> {
    return this.readEntity(tx, 'thing', thingId, fromRevision, limit);
  }

  async readEntity(
    tx: Tx,
    entity: 'thing' | 'policy',
    id: string,
    fromRevision: number,
    limit: number,
  ): Promise<JournalEntry[]> {
    const rows = await tx.query<JournalRow>(
      `SELECT ${JOURNAL_COLUMNS}
       FROM journal WHERE entity = $4 AND thing_id = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
      [id, fromRevision, limit, entity],
      { isoTimestamps: true },
    );
    return rows.map(journalEntryOf);
  }

  /** What the first deletion of a policy after a seq deleted, if it was deleted since. */
  async policyDeletedAfter(tx: Tx, policyId: string, afterSeq: string): Promise<unknown> {
    const rows = await tx.query<{ value: unknown }>(
      `SELECT value FROM journal
       WHERE entity = 'policy' AND thing_id = $1 AND action = 'deleted' AND path = '/' AND seq > $2
       ORDER BY revision LIMIT 1`,
      [policyId, afterSeq],
    );
    return rows[0]?.value;
  }

  async headSeq(tx: Tx): Promise<string> {
    const rows = await tx.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM journal', [], {
      prepare: true,
    });
    return rows[0]?.seq ?? '0';
  }
}

export function journalEntryOf(r: JournalRow): JournalEntry {
  return {
    seq: r.seq,
    ...(r.entity === 'policy' ? { entity: 'policy' as const } : {}),
    thingId: r.thing_id,
    ...(r.policy_id === null ? {} : { policyId: r.policy_id }),
    revision: Number(r.revision),
    action: r.action,
    path: r.path,
    value: r.value,
    ...(r.leaf_times === null ? {} : { leafTimes: r.leaf_times }),
    timestamp: r.ts,
    origin: r.origin,
    correlationId: r.correlation_id,
  };
}

/**
 * A just appended entry as a read of its row returns it (journalEntryOf), so that what the feed
 * hands on without reading the journal equals what a replay reads: values through JSON as jsonb
 * keeps them (no undefined members; copies, not the writer's own objects), optional columns
 * absent when empty, the time as PostgreSQL gives it back (UTC, milliseconds).
 */
export function asReadBack(e: JournalEntry): JournalEntry {
  const json = appendedJson.get(e);
  appendedJson.delete(e);
  return journalEntryOf({
    seq: e.seq,
    entity: e.entity ?? 'thing',
    thing_id: e.thingId,
    policy_id: e.policyId ?? null,
    revision: String(e.revision),
    action: e.action,
    path: e.path,
    value: e.value === undefined ? null : copyOf(e.value, json?.value),
    leaf_times: e.leafTimes === undefined ? null : copyOf(e.leafTimes, json?.leafTimes),
    ts: isoMillis(e.timestamp),
    origin: e.origin,
    correlation_id: e.correlationId ?? null,
  });
}

/** `Date#toISOString`'s form, which a time read back has; a write's own time usually has it already. */
function isoMillis(ts: string): string {
  return ts.length === 24 && ts.charCodeAt(23) === 90 && ts.charCodeAt(10) === 84 && ts.charCodeAt(19) === 46
    ? ts
    : new Date(ts).toISOString();
}

/** A copy of a value as JSON keeps it, from the JSON it was appended as when there is that. */
function copyOf<T>(value: T, json: string | undefined): T {
  return JSON.parse(json ?? JSON.stringify(value)) as T;
}

/** The JSON of each appended entry's value and leaf times, which its read-back copy parses. */
interface EntryJson {
  value?: string;
  leafTimes?: string;
}

/**
 * What append() wrote of each entry it returned, until asReadBack takes it: the feed hands on a
 * copy of every entry this process commits, and serializing the values once is half that copy.
 */
const appendedJson = new WeakMap<JournalEntry, EntryJson>();

/**
 * A value is wrapped in an array so that a JSON null stays a JSON null (json_to_recordset reads a
 * bare null as SQL NULL, which is what an entry without a value stores). Each value and leaf
 * times are serialized on their own, kept for the read-back copy, and spliced into the row.
 */
function entriesJson(entries: NewJournalEntry[]): { json: string; parts: EntryJson[] } {
  const parts: EntryJson[] = [];
  const rows = entries.map((e) => {
    const part: EntryJson = {
      value: e.value === undefined ? undefined : JSON.stringify(e.value),
      // Absent: SQL NULL (no times written, or none known).
      leafTimes: e.leafTimes === undefined ? undefined : JSON.stringify(e.leafTimes),
    };
    parts.push(part);
    const head = JSON.stringify({
      entity: e.entity,
      thing_id: e.thingId,
      policy_id: e.policyId,
      revision: e.revision,
      action: e.action,
      path: e.path,
      ts: e.timestamp,
      origin: e.origin,
      correlation_id: e.correlationId,
    });
    const value = e.value === undefined ? 'null' : `[${part.value ?? 'null'}]`;
    const leafTimes = part.leafTimes === undefined ? '' : `,"leaf_times":${part.leafTimes}`;
    return `${head.slice(0, -1)},"value":${value}${leafTimes}}`;
  });
  return { json: `[${rows.join(',')}]`, parts };
}
