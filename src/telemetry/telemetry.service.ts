import { Inject, Injectable } from '@nestjs/common';
import { TransactionRunner, type Tx } from '../persistence/transaction.js';
import { encodeCursor } from './history.cursor.js';
import type { HistoryQuery } from './history.query.js';
import { toRows, type StorableReading } from './reading.js';
import { SeriesCache } from './series-cache.js';
import { TelemetryRepository, type PointRow, type SeriesKey } from './telemetry.repository.js';
import type {
  BucketsResult,
  HistoryBucket,
  HistoryPoint,
  PointsPage,
  PropertyRef,
  TelemetryReading,
} from './telemetry.types.js';
import { displayInstant, isoOfMs } from './time.js';

/** Stores device readings and answers their history. */
@Injectable()
export class TelemetryService {
  /** About 100 bytes an entry: 200,000 series (20,000 devices of 10 properties) in some 20 MB. */
  private readonly series = new SeriesCache(200_000);

  constructor(
    @Inject(TelemetryRepository) private readonly repo: TelemetryRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
  ) {}

  /**
   * Inserts with one statement in the caller's transaction, skipping duplicates of the key
   * (thingId, featureId, path, ts, seq) — stored ones and repeats within `readings` (the
   * first wins) — and returns exactly the readings that were new, in input order (the same
   * objects). Throws telemetry:reading.invalid, before any SQL, if a reading cannot be stored.
   * The thing, feature and path are stored once per series; readings refer to it by id.
   */
  async insertNew(tx: Tx, readings: TelemetryReading[]): Promise<TelemetryReading[]> {
    const fresh = await this.insertRows(tx, toRows(readings));
    return fresh.map((i) => readings[i]);
  }

  /**
   * As insertNew, for rows storableReading has already made (the ingest's hot path); returns
   * the positions of the new ones, ascending.
   */
  async insertRows(tx: Tx, rows: StorableReading[]): Promise<number[]> {
    const series = await this.seriesOf(tx, rows);
    return this.repo.insertNew(
      tx,
      rows.map((r, i) => ({ series: series[i], ts: r.ts, seq: r.seq, value: r.value })),
    );
  }

  /** The series id of each row, from the cache or, for the others, from the database. */
  private async seriesOf(tx: Tx, rows: StorableReading[]): Promise<number[]> {
    const ids = rows.map((r) => this.series.get(r.thingId, r.featureId, r.path));
    const missing = new Map<string, SeriesKey>();
    rows.forEach((r, i) => {
      if (ids[i] === undefined) missing.set(keyOf(r), r);
    });
    if (missing.size === 0) return ids as number[];
    const keys = [...missing.values()];
    const found = await this.repo.seriesIds(tx, keys);
    const fresh = new Map<string, number>();
    keys.forEach((k, i) => {
      // One this transaction created is real for others only if it commits: not cached yet.
      if (found[i].created) fresh.set(keyOf(k), found[i].id);
      else this.series.remember(k.thingId, k.featureId, k.path, found[i].id);
    });
    return rows.map(
      (r, i) => ids[i] ?? this.series.get(r.thingId, r.featureId, r.path) ?? (fresh.get(keyOf(r)) as number),
    );
  }

  /**
   * A property's history: raw points or buckets. A feature or property without telemetry has an
   * empty history rather than a 404: readings may arrive for a property the twin has never held.
   * (Whether the thing exists and may be read is its policy's question, asked before this.)
   */
  async history(ref: PropertyRef, query: HistoryQuery): Promise<PointsPage | BucketsResult> {
    const range = { ...ref, from: query.from.sql, to: query.to.sql };
    const head = { ...ref, from: isoOfMs(query.from.ms), to: isoOfMs(query.to.ms) };
    if (query.kind === 'buckets') {
      const rows = await this.repo.buckets(this.tx.bounded, {
        ...range,
        stepMs: query.stepMs,
        agg: query.agg,
      });
      const buckets: HistoryBucket[] = rows.map((r) => ({
        ts: r.bucket.toISOString(),
        value: query.agg === 'first' || query.agg === 'last' ? r.value : Number(r.value),
        count: Number(r.count),
      }));
      return { ...head, step: query.step, agg: query.agg, buckets };
    }
    // One more than asked tells whether a next page exists without a count.
    const rows = await this.repo.points(this.tx.bounded, {
      ...range,
      after: query.after,
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    const result: PointsPage = { ...head, points: page.map(toPoint) };
    if (rows.length > query.limit) {
      const last = page[page.length - 1];
      result.cursor = encodeCursor(ref, { ts: last.ts, seq: last.seq ?? '-1' });
    }
    return result;
  }
  /**
   * The average of a numeric property per step over [fromMs, toMs), each bucket as its start in
   * epoch ms (buckets start at multiples of the step since the epoch; empty ones are absent): the
   * series other features learn from (forecasting). Bounded by the query pool's statement timeout.
   */
  async averages(
    ref: PropertyRef,
    fromMs: number,
    toMs: number,
    stepMs: number,
  ): Promise<{ ts: number; value: number }[]> {
    const rows = await this.repo.buckets(this.tx.bounded, {
      ...ref,
      from: isoOfMs(fromMs),
      to: isoOfMs(toMs),
      stepMs,
      agg: 'avg',
    });
    return rows.map((r) => ({ ts: r.bucket.getTime(), value: Number(r.value) }));
  }
}

function toPoint(r: PointRow): HistoryPoint {
  return { ts: displayInstant(r.ts), seq: r.seq === null ? null : Number(r.seq), value: r.value };
}

/** The series as one string: its parts joined with NUL, which no thing id, feature id or key holds. */
function keyOf(k: SeriesKey): string {
  return `${k.thingId}\u0000${k.featureId}\u0000${k.path}`;
}
