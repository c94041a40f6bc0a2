import type { ModelRow } from './forecasting.repository.js';
import type { ErrorMetrics } from './metrics.js';
import type { ForecastPoint, ForecastResult } from './pipeline.js';
import type { TargetSpec } from './target.js';

/** Metrics as JSON: numbers that are not finite (nothing compared) become null. */
export interface MetricsView {
  mape: number | null;
  mae: number | null;
  rmse: number | null;
  n: number;
}

/**
 * `features/forecast/properties` on the twin: the contract the dashboard and any client read.
 * Documented in the README ("Forecasting"); change it only compatibly.
 */
export interface ForecastFeature {
  target: string;
  horizon: string;
  step: string;
  generatedAt: string;
  model: { id: string; version: number; algorithm: string } | null;
  algorithm: string;
  fallback: boolean;
  fallbackReason?: string;
  error: {
    /** The model's error on its holdout week (null without a model). */
    holdout: MetricsView | null;
    /** The seasonal-naive baseline's on the same holdout. */
    baseline: MetricsView | null;
    /** The rolling error against readings since the model became active. */
    rolling: { mae: number | null; n: number } | null;
  };
  points: ForecastPoint[];
}

export type ModelView = Omit<ModelRow, 'metrics' | 'baseline'> & {
  metrics: MetricsView;
  baseline: Record<string, MetricsView | null>;
};

export function metricsView(m: ErrorMetrics | null | undefined): MetricsView | null {
  if (!m) return null;
  const f = (v: number | null) => (v !== null && Number.isFinite(v) ? round(v) : null);
  return { mape: f(m.mape), mae: f(m.mae), rmse: f(m.rmse), n: m.n };
}

export function modelView(row: ModelRow): ModelView {
  return {
    ...row,
    metrics: metricsView(row.metrics)!,
    baseline: Object.fromEntries(Object.entries(row.baseline).map(([k, v]) => [k, metricsView(v)])),
  };
}

export function forecastFeature(
  spec: TargetSpec,
  active: ModelRow | undefined,
  r: ForecastResult,
  generatedAt: Date,
): ForecastFeature {
  const used = r.fallback ? undefined : active;
  return {
    target: spec.target,
    horizon: spec.horizon,
    step: spec.step,
    generatedAt: generatedAt.toISOString(),
    model: active ? { id: active.id, version: active.version, algorithm: active.algorithm } : null,
    algorithm: used ? used.algorithm : 'seasonal-naive',
    fallback: r.fallback,
    ...(r.fallback && r.reason ? { fallbackReason: r.reason.slice(0, 500) } : {}),
    error: {
      holdout: metricsView(active?.metrics),
      baseline: metricsView(active?.baseline.naive),
      rolling: active
        ? { mae: active.rollingMae === null ? null : round(active.rollingMae), n: active.rollingN }
        : null,
    },
    points: r.points,
  };
}

function round(v: number): number {
  return Math.round(v * 10_000) / 10_000;
}
