import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import type { HistoryAgg, PointKey, PropertyRef } from './telemetry.types.js';

/** The dedup key as the unique index spells it; ON CONFLICT must name the same expression. */
const KEY = 'series_id, ts, (COALESCE(seq, -1))';
const SAVEPOINT = 'telemetry_insert';
const UNIQUE_VIOLATION = '23505';
/** The series of a property, for the history queries ($1 thing, $2 feature, $3 path). */
const SERIES =
  'series_id = (SELECT id FROM telemetry_series WHERE thing_id = $1 AND feature_id = $2 AND path = $3)';

/** What a series is: one property of one feature of one thing. */
export interface SeriesKey {
  thingId: string;
  featureId: string;
  path: string;
}

/** A reading as stored: its series' id, the time with an explicit offset, the value as JSON text. */
export interface PointToStore {
  series: number;
  ts: string;
  seq: number | null;
  value: string;
}
/** Exact to the microsecond, so a cursor taken from it resumes exactly after the point. */
const EXACT_TS = `to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export interface PointRow {
  ts: string;
  seq: string | null;
  value: unknown;
}

export interface BucketRow {
  bucket: Date;
  count: string;
  value: unknown;
}

export interface RangeQuery extends PropertyRef {
  /** timestamptz literals with explicit offsets. */
  from: string;
  to: string;
}

/**
 * Aggregates per bucket. The numeric ones see only JSON numbers (the WHERE of buckets() drops
 * the rest); first and last take the value of the earliest/latest reading in (ts, seq) order.
 */
const AGG_SQL: Record<HistoryAgg, string> = {
  avg: 'avg(value::numeric)',
  min: 'min(value::numeric)',
  max: 'max(value::numeric)',
  sum: 'sum(value::numeric)',
  count: 'count(*)',
  first: '(array_agg(value ORDER BY ts, COALESCE(seq, -1)))[1]',
  last: '(array_agg(value ORDER BY ts DESC, COALESCE(seq, -1) DESC))[1]',
};
const NUMERIC_AGGS = new Set<HistoryAgg>(['avg', 'min', 'max', 'sum']);

@Injectable()
export class TelemetryRepository {
  /**
   * The ids of the series, in input order, creating the missing ones. `created` marks ids this
   * transaction made: they exist for others only once it commits. Keys must be distinct.
   */
  async seriesIds(tx: Tx, keys: SeriesKey[]): Promise<{ id: number; created: boolean }[]> {
    const input = JSON.stringify(keys.map((k) => ({ t: k.thingId, f: k.featureId, p: k.path })));
    const rows = await tx.query<{ n: string; id: number | null; created: boolean }>(
      `WITH input AS (
         SELECT * FROM ROWS FROM (json_to_recordset($1::json) AS (t text, f text, p text))
                WITH ORDINALITY AS i(t, f, p, n)
       ), created AS (
         INSERT INTO telemetry_series (thing_id, feature_id, path)
         SELECT t, f, p FROM input ORDER BY t, f, p
         ON CONFLICT (thing_id, feature_id, path) DO NOTHING
         RETURNING id, thing_id, feature_id, path
       )
       SELECT i.n, COALESCE(c.id, s.id) AS id, c.id IS NOT NULL AS created
       FROM input i
       LEFT JOIN created c ON c.thing_id = i.t AND c.feature_id = i.f AND c.path = i.p
       LEFT JOIN telemetry_series s ON s.thing_id = i.t AND s.feature_id = i.f AND s.path = i.p
       ORDER BY i.n`,
      [input],
      { prepare: true },
    );
    const out = rows.map((r) => ({ id: r.id, created: r.created }));
    // A series another transaction committed while this statement ran: its snapshot did not
    // show it, but the insert saw the conflict. A new statement sees it.
    const late = keys.filter((_, i) => out[i].id === null);
    if (late.length > 0) {
      const again = await this.seriesIds(tx, late);
      let next = 0;
      for (const o of out) if (o.id === null) Object.assign(o, again[next++]);
    }
    return out as { id: number; created: boolean }[];
  }

  /**
   * One statement for the whole batch. Rows go in in key order so two batches sharing keys lock
   * them in the same order instead of deadlocking; among readings with the same key the first
   * (by input position n) goes in first, and ON CONFLICT skips the others, as it skips keys
   * already stored, including ones a concurrent transaction is inserting (it waits for that
   * one's outcome). Returns the input positions (0-based) of the rows inserted, ascending.
   *
   * The rows travel as one array literal per column, written here (the driver's own array
   * encoding costs more than the insert), which the server parses faster than the same rows
   * as JSON; the answer is one value.
   *
   * Usually every row is new: a plain insert, in a savepoint, costs the server about a third
   * less than resolving conflicts. Only when it meets a duplicate (a redelivery, a device
   * retry) is it undone and the rows inserted skipping conflicts, the input then matched
   * against what went in (several inputs may match one row: the first of them went in).
   */
  async insertNew(tx: Tx, rows: PointToStore[]): Promise<number[]> {
    if (rows.length === 0) return [];
    const params = columns(rows);
    await tx.query(`SAVEPOINT ${SAVEPOINT}`);
    try {
      await tx.query(
        `INSERT INTO telemetry (series_id, ts, seq, value)
         SELECT series_id, ts, seq, value
         FROM unnest($1::integer[], $2::timestamptz[], $3::bigint[], $4::jsonb[])
              WITH ORDINALITY AS r(series_id, ts, seq, value, n)
         ORDER BY series_id, ts, COALESCE(seq, -1), n`,
        params,
        { prepare: true },
      );
      await tx.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      return rows.map((_, i) => i);
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      await tx.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    }
    const result = await tx.query<{ fresh: string | null }>(
      `WITH input AS (
         SELECT * FROM unnest($1::integer[], $2::timestamptz[], $3::bigint[], $4::jsonb[])
                WITH ORDINALITY AS r(series_id, ts, seq, value, n)
       ), inserted AS (
         INSERT INTO telemetry (series_id, ts, seq, value)
         SELECT series_id, ts, seq, value FROM input
         ORDER BY series_id, ts, COALESCE(seq, -1), n
         ON CONFLICT (${KEY}) DO NOTHING
         RETURNING series_id, ts, seq
       )
       SELECT CASE WHEN (SELECT count(*) FROM inserted) = $5 THEN NULL ELSE (
         SELECT COALESCE(string_agg((n - 1)::text, ',' ORDER BY n), '') FROM (
           SELECT min(f.n) AS n FROM input f JOIN inserted i USING (series_id, ts)
           WHERE COALESCE(i.seq, -1) = COALESCE(f.seq, -1)
           GROUP BY i.series_id, i.ts, i.seq) firsts
       ) END AS fresh`,
      [...params, rows.length],
    );
    await tx.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    const fresh = result[0].fresh;
    if (fresh === null) return rows.map((_, i) => i);
    return fresh === '' ? [] : fresh.split(',').map(Number);
  }

  /** Raw points in (ts, seq) order after `after`; the index on the key serves both filter and order. */
  points(db: Tx, q: RangeQuery & { after?: PointKey; limit: number }): Promise<PointRow[]> {
    const params: unknown[] = [q.thingId, q.featureId, q.path, q.from, q.to, q.limit];
    let after = '';
    if (q.after) {
      params.push(q.after.ts, q.after.seq);
      after = 'AND ts >= $7::timestamptz AND (ts, COALESCE(seq, -1)) > ($7::timestamptz, $8::bigint)';
    }
    return db.query<PointRow>(
      `SELECT ${EXACT_TS} AS ts, seq, value FROM telemetry
       WHERE ${SERIES} AND ts >= $4::timestamptz AND ts < $5::timestamptz ${after}
       ORDER BY ts, COALESCE(seq, -1)
       LIMIT $6`,
      params,
    );
  }

  /**
   * Buckets with at least one reading the aggregate uses, aligned on the Unix epoch so the same
   * step always yields the same bucket boundaries, whatever `from` is.
   */
  buckets(db: Tx, q: RangeQuery & { stepMs: number; agg: HistoryAgg }): Promise<BucketRow[]> {
    const numericOnly = NUMERIC_AGGS.has(q.agg) ? `AND jsonb_typeof(value) = 'number'` : '';
    return db.query<BucketRow>(
      `SELECT date_bin($6::bigint * interval '1 millisecond', ts, timestamptz '1970-01-01T00:00:00Z') AS bucket,
              count(*) AS count, ${AGG_SQL[q.agg]} AS value
       FROM telemetry
       WHERE ${SERIES} AND ts >= $4::timestamptz AND ts < $5::timestamptz
             ${numericOnly}
       GROUP BY bucket ORDER BY bucket`,
      [q.thingId, q.featureId, q.path, q.from, q.to, q.stepMs],
    );
  }
}

/**
 * The rows as four array literals. Series ids, seqs and ISO 8601 times need no quoting; each
 * value is JSON text, quoted with its quotes and backslashes escaped as array literals want.
 */
function columns(rows: PointToStore[]): [string, string, string, string] {
  const series = new Array<number>(rows.length);
  const times = new Array<string>(rows.length);
  const seqs = new Array<string>(rows.length);
  const values = new Array<string>(rows.length);
  rows.forEach((r, i) => {
    series[i] = r.series;
    times[i] = r.ts;
    seqs[i] = r.seq === null ? 'NULL' : String(r.seq);
    values[i] = `"${QUOTED.test(r.value) ? r.value.replace(QUOTED_ALL, '\\$&') : r.value}"`;
  });
  return [`{${series.join(',')}}`, `{${times.join(',')}}`, `{${seqs.join(',')}}`, `{${values.join(',')}}`];
}

const QUOTED = /["\\]/;
const QUOTED_ALL = /["\\]/g;
