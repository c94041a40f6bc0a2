import { createHash } from 'node:crypto';
import { errorMetrics, type ErrorMetrics } from './metrics.js';
import {
  featureSpec,
  predictLearned,
  predictNaive,
  trainLearned,
  type Band,
  type HoldoutReport,
  type Hyperparameters,
  type LearnedArtefact,
  type ModelInputs,
} from './model.js';

/** One grid of history, as it travels to a worker (plain arrays: structured-clone friendly). */
export interface SeriesWindow {
  startMs: number;
  stepMs: number;
  y: number[];
  temperature?: number[];
  children: number[][];
  /** The things `children` are the histories of, in order (set by the data loading). */
  parts?: string[];
}

export interface TrainRequest extends SeriesWindow {
  horizonMs: number;
  /** Use the parts' histories (attributes/partOf) as features. */
  topology: boolean;
  hyperparameters?: Partial<Hyperparameters>;
}

export interface TrainResult {
  artefact: LearnedArtefact;
  holdout: HoldoutReport;
  /** sha256 of the training series (target, temperature, parts, grid). */
  fingerprint: string;
  window: { from: number; to: number };
}

export interface ForecastPoint {
  ts: string;
  value: number;
  lower: number;
  upper: number;
}

export interface ForecastResult {
  points: ForecastPoint[];
  /** True when the seasonal-naive forecast stands in for the model. */
  fallback: boolean;
  reason?: string;
}

const DAY_MS = 86_400_000;
export const DEFAULT_HYPERPARAMETERS: Hyperparameters = {
  lambda: 20,
  seed: 42,
  maxRows: 3000,
  holdoutSteps: 0,
  transform: 'log',
  calibrate: 'mape',
};

/** The holdout: the last week, or a quarter of the window when that is shorter than four weeks. */
export function holdoutSteps(length: number, stepMs: number): number {
  return Math.min(Math.round((7 * DAY_MS) / stepMs), Math.floor(length / 4));
}

export function train(req: TrainRequest): TrainResult {
  const inp = inputs(req);
  const children = req.topology ? req.children.length : 0;
  const spec = featureSpec(req.stepMs, req.horizonMs, req.y.length, {
    temperature: req.temperature !== undefined,
    children,
  });
  const hp: Hyperparameters = {
    ...DEFAULT_HYPERPARAMETERS,
    holdoutSteps: holdoutSteps(req.y.length, req.stepMs),
    ...req.hyperparameters,
  };
  const { artefact, holdout } = trainLearned(inp, spec, hp);
  return {
    artefact,
    holdout,
    fingerprint: fingerprint(req, children),
    window: { from: req.startMs, to: req.startMs + req.y.length * req.stepMs },
  };
}

/**
 * The next horizon after the window (whose last slot is the newest known one): the model's
 * forecast, or the seasonal-naive one when the model gives no finite numbers.
 */
export function forecast(artefact: LearnedArtefact, win: SeriesWindow): ForecastResult {
  if (artefact.spec.children > win.children.length)
    return naive(
      artefact,
      win,
      `the model sums ${artefact.spec.children} parts, ${win.children.length} have a history now`,
    );
  const inp = extended(win, artefact.spec.horizonSteps);
  const from = win.y.length;
  try {
    const values = predictLearned(artefact, inp, from, artefact.spec.horizonSteps);
    if (values.every(Number.isFinite))
      return { points: points(win, from, values, artefact.band), fallback: false };
    return naive(artefact, win, 'the model gave no finite forecast (missing history)');
  } catch (err) {
    return naive(artefact, win, err instanceof Error ? err.message : String(err));
  }
}

/**
 * The artefact's error on slots [from, end) of a window whose values are all known (the newest
 * holdout of a challenger): null when the artefact cannot forecast them (other parts, no temperature).
 */
export function evaluate(artefact: LearnedArtefact, win: SeriesWindow, from: number): ErrorMetrics | null {
  const inp = inputs(win);
  const start = Math.max(
    from,
    artefact.spec.weekSlots ?? 0,
    artefact.spec.lagSlots + artefact.spec.daySlots - 1,
  );
  if (start >= win.y.length || artefact.spec.children > win.children.length) return null;
  try {
    const predicted = predictLearned(artefact, inp, start, win.y.length - start);
    if (!predicted.every(Number.isFinite)) return null;
    return errorMetrics(win.y.slice(start), predicted);
  } catch {
    return null;
  }
}

/** The seasonal-naive forecast (the artefact's period and band; a day lag without one). */
export function naive(
  artefact: Pick<LearnedArtefact, 'spec' | 'naive'>,
  win: SeriesWindow,
  reason: string,
): ForecastResult {
  const inp = extended(win, artefact.spec.horizonSteps);
  const values = predictNaive(artefact, inp.y, win.y.length, artefact.spec.horizonSteps);
  return { points: points(win, win.y.length, values, artefact.naive.band), fallback: true, reason };
}

/** A naive stand-in for a target that has no model yet. */
export function naiveWithoutModel(win: SeriesWindow, horizonMs: number, reason: string): ForecastResult {
  const spec = featureSpec(win.stepMs, horizonMs, win.y.length, { temperature: false, children: 0 });
  return naive({ spec, naive: { period: 'day', band: { lower: 0, upper: 0 } } }, win, reason);
}

function points(win: SeriesWindow, from: number, values: number[], b: Band): ForecastPoint[] {
  const out: ForecastPoint[] = [];
  values.forEach((v, k) => {
    if (!Number.isFinite(v)) return;
    const ts = new Date(win.startMs + (from + k) * win.stepMs).toISOString();
    out.push({ ts, value: round(v), lower: round(v + b.lower), upper: round(v + b.upper) });
  });
  return out;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function inputs(win: SeriesWindow): ModelInputs {
  return {
    startMs: win.startMs,
    stepMs: win.stepMs,
    y: Float64Array.from(win.y),
    temperature: win.temperature ? Float64Array.from(win.temperature) : undefined,
    children: win.children.map((c) => Float64Array.from(c)),
  };
}

/** The window with `extra` unknown (NaN) slots after it, to be forecast. */
function extended(win: SeriesWindow, extra: number): ModelInputs {
  const pad = (s: number[]): Float64Array => {
    const out = new Float64Array(s.length + extra).fill(NaN);
    out.set(s);
    return out;
  };
  return {
    startMs: win.startMs,
    stepMs: win.stepMs,
    y: pad(win.y),
    temperature: win.temperature ? pad(win.temperature) : undefined,
    children: win.children.map(pad),
  };
}

function fingerprint(req: TrainRequest, children: number): string {
  const h = createHash('sha256');
  h.update(`${req.startMs}/${req.stepMs}/${req.y.length}/${children}\n`);
  const add = (s: number[]): void => {
    h.update(Buffer.from(Float64Array.from(s).buffer));
  };
  add(req.y);
  if (req.temperature) add(req.temperature);
  for (let c = 0; c < children; c++) add(req.children[c]);
  return h.digest('hex');
}

export type { ErrorMetrics, HoldoutReport, LearnedArtefact };
