import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import type { TelemetryRow } from './reading.js';
import type { HistoryAgg, PointKey, PropertyRef } from './telemetry.types.js';

/** The dedup key as the unique index spells it; ON CONFLICT must name the same expression. */
const KEY = 'thing_id, feature_id, path, ts, (COALESCE(seq, -1))';
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
   * One statement for the whole batch. DISTINCT ON keeps the first of several readings with the
   * same key (by input position n); ON CONFLICT skips keys already stored, including ones a
   * concurrent transaction is inserting (it waits for that one's outcome). Rows go in in key
   * order so two batches sharing keys lock them in the same order instead of deadlocking.
   * Returns the input positions (0-based) of the rows that were inserted, ascending.
   */
  async insertNew(tx: Tx, rows: TelemetryRow[]): Promise<number[]> {
    if (rows.length === 0) return [];
    const result = await tx.query<{ n: string }>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::jsonb[])
                WITH ORDINALITY AS r(thing_id, feature_id, path, ts, seq, value, n)
       ), firsts AS (
         SELECT DISTINCT ON (thing_id, feature_id, path, ts, COALESCE(seq, -1)) *
         FROM input ORDER BY thing_id, feature_id, path, ts, COALESCE(seq, -1), n
       ), inserted AS (
         INSERT INTO telemetry (thing_id, feature_id, path, ts, seq, value)
         SELECT thing_id, feature_id, path, ts, seq, value FROM firsts
         ORDER BY thing_id, feature_id, path, ts, COALESCE(seq, -1)
         ON CONFLICT (${KEY}) DO NOTHING
         RETURNING thing_id, feature_id, path, ts, seq
       )
       SELECT f.n FROM firsts f JOIN inserted i USING (thing_id, feature_id, path, ts)
       WHERE COALESCE(i.seq, -1) = COALESCE(f.seq, -1)
       ORDER BY f.n`,
      [
        rows.map((r) => r.thingId),
        rows.map((r) => r.featureId),
        rows.map((r) => r.path),
        rows.map((r) => r.ts),
        rows.map((r) => r.seq),
        rows.map((r) => r.value),
      ],
    );
    return result.map((r) => Number(r.n) - 1);
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
       WHERE thing_id = $1 AND feature_id = $2 AND path = $3 AND ts >= $4::timestamptz AND ts < $5::timestamptz ${after}
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
       WHERE thing_id = $1 AND feature_id = $2 AND path = $3 AND ts >= $4::timestamptz AND ts < $5::timestamptz
             ${numericOnly}
       GROUP BY bucket ORDER BY bucket`,
      [q.thingId, q.featureId, q.path, q.from, q.to, q.stepMs],
    );
  }
}
