import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import type { ErrorMetrics } from './metrics.js';
import type { ForecastPoint } from './pipeline.js';

export type ModelStatus = 'candidate' | 'active' | 'retired';

export interface ModelRow {
  id: string;
  thingId: string;
  target: string;
  version: number;
  algorithm: string;
  hyperparameters: Record<string, unknown>;
  trainFrom: string;
  trainTo: string;
  holdoutFrom: string;
  fingerprint: string;
  metrics: ErrorMetrics;
  baseline: Record<string, ErrorMetrics | null>;
  parts: string[];
  status: ModelStatus;
  createdAt: string;
  activatedAt: string | null;
  rollingMae: number | null;
  rollingN: number;
  checkedUntil: string | null;
}

export interface NewModel {
  thingId: string;
  target: string;
  algorithm: string;
  hyperparameters: Record<string, unknown>;
  trainFrom: Date;
  trainTo: Date;
  holdoutFrom: Date;
  fingerprint: string;
  metrics: ErrorMetrics;
  baseline: Record<string, ErrorMetrics | null>;
  parts: string[];
  artefact: unknown;
}

export interface EventRow {
  id: string;
  thingId: string;
  target: string;
  modelId: string | null;
  kind: string;
  detail: Record<string, unknown>;
  createdAt: string;
}

export interface RunRow {
  modelId: string | null;
  generatedAt: string;
  fallback: boolean;
  points: ForecastPoint[];
}

const MODEL_COLUMNS = `id, thing_id AS "thingId", target, version, algorithm, hyperparameters,
  to_json(train_from) #>> '{}' AS "trainFrom", to_json(train_to) #>> '{}' AS "trainTo",
  to_json(holdout_from) #>> '{}' AS "holdoutFrom", fingerprint, metrics, baseline, parts, status,
  to_json(created_at) #>> '{}' AS "createdAt", to_json(activated_at) #>> '{}' AS "activatedAt",
  rolling_mae AS "rollingMae", rolling_n AS "rollingN", to_json(checked_until) #>> '{}' AS "checkedUntil"`;

@Injectable()
export class ForecastingRepository {
  /** The next version of the target, numbered under a lock on the target's lease row key. */
  async insertModel(tx: Tx, m: NewModel, status: ModelStatus): Promise<ModelRow> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`forecast:${m.thingId}/${m.target}`]);
    const rows = await tx.query<ModelRow>(
      `INSERT INTO forecast_models (thing_id, target, version, algorithm, hyperparameters, train_from,
         train_to, holdout_from, fingerprint, metrics, baseline, parts, status, artefact)
       SELECT $1, $2, COALESCE(max(version), 0) + 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
       FROM forecast_models WHERE thing_id = $1 AND target = $2
       RETURNING ${MODEL_COLUMNS}`,
      [
        m.thingId,
        m.target,
        m.algorithm,
        JSON.stringify(m.hyperparameters),
        m.trainFrom.toISOString(),
        m.trainTo.toISOString(),
        m.holdoutFrom.toISOString(),
        m.fingerprint,
        JSON.stringify(m.metrics),
        JSON.stringify(m.baseline),
        JSON.stringify(m.parts),
        status,
        JSON.stringify(m.artefact),
      ],
    );
    return rows[0];
  }

  async models(db: Tx, thingId: string, target?: string): Promise<ModelRow[]> {
    return db.query<ModelRow>(
      `SELECT ${MODEL_COLUMNS} FROM forecast_models
       WHERE thing_id = $1 AND ($2::text IS NULL OR target = $2)
       ORDER BY target, version DESC LIMIT 1000`,
      [thingId, target ?? null],
    );
  }

  async model(db: Tx, id: string): Promise<ModelRow | undefined> {
    const rows = await db.query<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM forecast_models WHERE id = $1`, [id]);
    return rows[0];
  }

  async active(db: Tx, thingId: string, target: string): Promise<ModelRow | undefined> {
    const rows = await db.query<ModelRow>(
      `SELECT ${MODEL_COLUMNS} FROM forecast_models WHERE thing_id = $1 AND target = $2 AND status = 'active'`,
      [thingId, target],
    );
    return rows[0];
  }

  async artefact(db: Tx, id: string): Promise<unknown> {
    const rows = await db.query<{ artefact: unknown }>(`SELECT artefact FROM forecast_models WHERE id = $1`, [
      id,
    ]);
    return rows[0]?.artefact;
  }

  /** Makes `id` the active version of its target, retiring the one active before. */
  async activate(tx: Tx, id: string): Promise<void> {
    await tx.query(
      `UPDATE forecast_models m SET status = 'retired'
       FROM forecast_models t WHERE t.id = $1 AND m.thing_id = t.thing_id AND m.target = t.target
         AND m.status = 'active' AND m.id <> $1`,
      [id],
    );
    await tx.query(
      `UPDATE forecast_models SET status = 'active', activated_at = now(), rolling_mae = NULL, rolling_n = 0,
         checked_until = NULL WHERE id = $1`,
      [id],
    );
  }

  async retire(tx: Tx, id: string): Promise<void> {
    await tx.query(`UPDATE forecast_models SET status = 'retired' WHERE id = $1 AND status = 'candidate'`, [
      id,
    ]);
  }

  async updateRolling(db: Tx, id: string, mae: number | null, n: number, checkedUntil: Date): Promise<void> {
    await db.query(
      `UPDATE forecast_models SET rolling_mae = $2, rolling_n = $3, checked_until = $4 WHERE id = $1`,
      [id, mae, n, checkedUntil.toISOString()],
    );
  }

  async lastTrained(db: Tx, thingId: string, target: string): Promise<Date | undefined> {
    const rows = await db.query<{ at: Date | null }>(
      `SELECT max(created_at) AS at FROM forecast_models WHERE thing_id = $1 AND target = $2`,
      [thingId, target],
    );
    return rows[0]?.at ?? undefined;
  }

  async addEvent(
    db: Tx,
    e: {
      thingId: string;
      target: string;
      modelId?: string | null;
      kind: string;
      detail?: Record<string, unknown>;
    },
  ): Promise<void> {
    await db.query(
      `INSERT INTO forecast_events (thing_id, target, model_id, kind, detail) VALUES ($1, $2, $3, $4, $5)`,
      [e.thingId, e.target, e.modelId ?? null, e.kind, JSON.stringify(e.detail ?? {})],
    );
  }

  /** Newest first; `before` is the id of the last event of the previous page. */
  async events(
    db: Tx,
    q: { thingIds: string[] | null; kind?: string; before?: string; limit: number },
  ): Promise<EventRow[]> {
    return db.query<EventRow>(
      `SELECT id::text, thing_id AS "thingId", target, model_id AS "modelId", kind, detail,
              to_json(created_at) #>> '{}' AS "createdAt"
       FROM forecast_events
       WHERE ($1::text[] IS NULL OR thing_id = ANY($1)) AND ($2::text IS NULL OR kind = $2)
         AND ($3::bigint IS NULL OR id < $3)
       ORDER BY id DESC LIMIT $4`,
      [q.thingIds, q.kind ?? null, q.before ?? null, q.limit],
    );
  }

  async addRun(
    db: Tx,
    r: {
      thingId: string;
      target: string;
      modelId: string | null;
      generatedAt: Date;
      fallback: boolean;
      points: ForecastPoint[];
    },
  ): Promise<void> {
    if (r.points.length === 0) return;
    await db.query(
      `INSERT INTO forecast_runs (thing_id, target, model_id, generated_at, first_ts, last_ts, fallback, points)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        r.thingId,
        r.target,
        r.modelId,
        r.generatedAt.toISOString(),
        r.points[0].ts,
        r.points[r.points.length - 1].ts,
        r.fallback,
        JSON.stringify(r.points),
      ],
    );
  }

  /** Runs whose points reach into [from, to), oldest first, at most `limit`. */
  async runs(
    db: Tx,
    thingId: string,
    target: string,
    from: Date,
    to: Date,
    limit: number,
  ): Promise<RunRow[]> {
    return db.query<RunRow>(
      `SELECT model_id AS "modelId", to_json(generated_at) #>> '{}' AS "generatedAt", fallback, points
       FROM forecast_runs
       WHERE thing_id = $1 AND target = $2 AND last_ts >= $3 AND first_ts < $4 AND generated_at < $4
       ORDER BY generated_at LIMIT $5`,
      [thingId, target, from.toISOString(), to.toISOString(), limit],
    );
  }

  async latestRun(db: Tx, thingId: string, target: string): Promise<RunRow | undefined> {
    const rows = await db.query<RunRow>(
      `SELECT model_id AS "modelId", to_json(generated_at) #>> '{}' AS "generatedAt", fallback, points
       FROM forecast_runs WHERE thing_id = $1 AND target = $2 ORDER BY generated_at DESC LIMIT 1`,
      [thingId, target],
    );
    return rows[0];
  }

  async pruneRuns(db: Tx, before: Date): Promise<void> {
    await db.query(`DELETE FROM forecast_runs WHERE generated_at < $1`, [before.toISOString()]);
  }

  /**
   * Takes the target's lease for `ttlMs` if it is free, expired or already ours: only the
   * replica holding it trains the target.
   */
  async acquireLease(
    db: Tx,
    thingId: string,
    target: string,
    holder: string,
    ttlMs: number,
  ): Promise<boolean> {
    const rows = await db.query(
      `INSERT INTO forecast_leases (thing_id, target, holder, expires_at)
       VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
       ON CONFLICT (thing_id, target) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE forecast_leases.expires_at < now() OR forecast_leases.holder = EXCLUDED.holder
       RETURNING 1`,
      [thingId, target, holder, ttlMs],
    );
    return rows.length === 1;
  }

  async releaseLease(db: Tx, thingId: string, target: string, holder: string): Promise<void> {
    await db.query(`DELETE FROM forecast_leases WHERE thing_id = $1 AND target = $2 AND holder = $3`, [
      thingId,
      target,
      holder,
    ]);
  }

  /** A summary read for the metrics; run on the bounded pool, so a slow database cuts it off. */
  async summary(db: Tx): Promise<ForecastingSummary> {
    // The drift ratio is the rolling error over the holdout error: the figure a retrain compares
    // with FORECAST_DRIFT_FACTOR.
    const models = await db.query<{
      status: ModelStatus;
      count: number;
      holdoutMape: number | null;
      driftRatio: number | null;
      maxDriftRatio: number | null;
    }>(
      `SELECT status, count(*)::int AS count,
              avg((metrics->>'mape')::float8) AS "holdoutMape",
              avg(rolling_mae / NULLIF((metrics->>'mae')::float8, 0)) AS "driftRatio",
              max(rolling_mae / NULLIF((metrics->>'mae')::float8, 0)) AS "maxDriftRatio"
         FROM forecast_models GROUP BY status`,
    );
    const events = await db.query<{ kind: string; count: number }>(
      `SELECT kind, count(*)::int AS count FROM forecast_events GROUP BY kind`,
    );
    return { models, events };
  }
}

/** Figures of every replica's models and events, for the metrics (one scrape, two aggregates). */
export interface ForecastingSummary {
  models: {
    status: ModelStatus;
    count: number;
    holdoutMape: number | null;
    driftRatio: number | null;
    maxDriftRatio: number | null;
  }[];
  events: { kind: string; count: number }[];
}
