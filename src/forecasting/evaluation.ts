import { errorMetrics, type ErrorMetrics } from './metrics.js';
import type { ForecastPoint } from './pipeline.js';

export interface IssuedRun {
  modelId: string | null;
  /** ISO 8601. */
  generatedAt: string;
  fallback: boolean;
  points: ForecastPoint[];
}

export interface EvaluatedStep {
  ts: string;
  actual: number;
  forecast: number;
  error: number;
  modelId: string | null;
  fallback: boolean;
}

/**
 * Pairs each actual (step start → value) with the forecast that was current for that step: the
 * point of the newest run generated before the step ended (a forecast starts with the step in
 * progress). Actuals no run covered are left out.
 */
export function matchForecasts(
  runs: readonly IssuedRun[],
  actuals: readonly { ts: number; value: number }[],
  stepMs: number,
): EvaluatedStep[] {
  const sorted = [...runs].sort((a, b) => Date.parse(a.generatedAt) - Date.parse(b.generatedAt));
  const byRun = sorted.map((r) => ({
    at: Date.parse(r.generatedAt),
    run: r,
    points: new Map(r.points.map((p) => [Date.parse(p.ts), p.value])),
  }));
  const out: EvaluatedStep[] = [];
  for (const a of actuals) {
    for (let k = byRun.length - 1; k >= 0; k--) {
      const r = byRun[k];
      if (r.at >= a.ts + stepMs) continue;
      const f = r.points.get(a.ts);
      if (f === undefined) continue;
      out.push({
        ts: new Date(a.ts).toISOString(),
        actual: a.value,
        forecast: f,
        error: a.value - f,
        modelId: r.run.modelId,
        fallback: r.run.fallback,
      });
      break;
    }
  }
  return out;
}

export function stepMetrics(steps: readonly EvaluatedStep[]): ErrorMetrics {
  return errorMetrics(
    steps.map((s) => s.actual),
    steps.map((s) => s.forecast),
  );
}
