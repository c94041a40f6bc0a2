import { fitBottomUp, predictBottomUp, type BottomUpFit } from './bottom-up.js';
import { firstUsable, type FeatureSpec, type ModelInputs } from './features.js';
import { errorMetrics, quantile, type ErrorMetrics } from './metrics.js';
import { fitRidge, predictRidge, type Hyperparameters, type RidgeFit } from './ridge.js';

export { featureSpec, type FeatureSpec, type ModelInputs } from './features.js';
export { mapeFactor, mulberry32, type Hyperparameters, type RidgeFit } from './ridge.js';
export type { BottomUpFit } from './bottom-up.js';

const WEEK_DAYS = 7;

export interface Band {
  /** Quantiles of actual − forecast on the holdout: the 90 % band is [value + lower, value + upper]. */
  lower: number;
  upper: number;
}

/** A fitted model: the home meter's own ridge, or bottom-up over its parts (bottom-up.ts). */
export type Fitted = RidgeFit | BottomUpFit;

/** What is stored and served: the fit with its band and its seasonal-naive fallback. */
export type LearnedArtefact = Fitted & {
  band: Band;
  naive: { period: 'day' | 'week'; band: Band };
};

export interface HoldoutReport {
  learned: ErrorMetrics;
  naiveDay: ErrorMetrics;
  naiveWeek: ErrorMetrics | null;
  /** The better of the two naive forecasts, the baseline every model is reported against. */
  naive: ErrorMetrics;
  from: number;
  to: number;
}

export class InsufficientData extends Error {}

/**
 * Trains on the grid: fits on all usable slots but the last `holdoutSteps` and reports this fit
 * and the seasonal-naive forecasts on them. The model served is the one evaluated (the holdout
 * week still feeds its lags when it forecasts), so its metrics describe exactly what runs.
 * Deterministic: the same inputs and hyperparameters give the same artefact.
 */
export function trainLearned(
  inp: ModelInputs,
  spec: FeatureSpec,
  hp: Hyperparameters,
): { artefact: LearnedArtefact; holdout: HoldoutReport } {
  const n = inp.y.length;
  const first = firstUsable(spec);
  const holdFrom = n - hp.holdoutSteps;
  if (holdFrom - first < spec.daySlots)
    throw new InsufficientData(
      `needs at least ${(first + spec.daySlots + hp.holdoutSteps) / spec.daySlots} days of history, has ${(n / spec.daySlots).toFixed(1)}`,
    );
  const trainIdx = range(first, holdFrom);
  const holdIdx = range(holdFrom, n);
  // With parts, bottom-up; stored ridge models with parts as columns (spec.children > 0) still serve.
  const probe: Fitted =
    spec.children > 0 ? fitBottomUp(inp, spec, hp, trainIdx) : fitRidge(inp, spec, hp, trainIdx);
  const predicted = predictRows(probe, inp, holdIdx);
  const actual = holdIdx.map((i) => inp.y[i]);
  const learned = errorMetrics(actual, predicted);
  const naiveDay = errorMetrics(
    actual,
    holdIdx.map((i) => inp.y[i - spec.lagSlots]),
  );
  const week = spec.weekSlots ?? WEEK_DAYS * spec.daySlots;
  const weekKnown = holdIdx[0] - week >= 0 && week >= spec.lagSlots;
  const naiveWeek = weekKnown
    ? errorMetrics(
        actual,
        holdIdx.map((i) => inp.y[i - week]),
      )
    : null;
  const period = naiveWeek && naiveWeek.mae < naiveDay.mae ? 'week' : 'day';
  const naiveLag = period === 'week' ? week : spec.lagSlots;
  const artefact: LearnedArtefact = {
    ...probe,
    band: band(actual, predicted),
    naive: {
      period,
      band: band(
        actual,
        holdIdx.map((i) => inp.y[i - naiveLag]),
      ),
    },
  };
  return {
    artefact,
    holdout: {
      learned,
      naiveDay,
      naiveWeek,
      naive: period === 'week' ? naiveWeek! : naiveDay,
      from: inp.startMs + holdFrom * inp.stepMs,
      to: inp.startMs + n * inp.stepMs,
    },
  };
}

/** The artefact's forecast for slots [from, from + count) of `inp`, which must know everything before `from`. */
export function predictLearned(
  art: LearnedArtefact,
  inp: ModelInputs,
  from: number,
  count: number,
): number[] {
  return predictRows(art, inp, range(from, from + count));
}

/** Seasonal naive: the value a day (the lag, whole days) or a week earlier. */
export function predictNaive(
  art: Pick<LearnedArtefact, 'spec' | 'naive'>,
  y: Float64Array,
  from: number,
  count: number,
): number[] {
  const lag = art.naive.period === 'week' ? WEEK_DAYS * art.spec.daySlots : art.spec.lagSlots;
  return range(from, from + count).map((i) => (i - lag >= 0 ? y[i - lag] : NaN));
}

function predictRows(art: Fitted, inp: ModelInputs, rows: number[]): number[] {
  return art.algorithm === 'bottom-up-ridge' ? predictBottomUp(art, inp, rows) : predictRidge(art, inp, rows);
}

function band(actual: number[], predicted: number[]): Band {
  const residuals = actual.map((a, i) => a - predicted[i]);
  return { lower: quantile(residuals, 0.05), upper: quantile(residuals, 0.95) };
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}
