import MultivariateLinearRegression from 'ml-regression-multivariate-linear';
import { featureRow, type FeatureSpec, type ModelInputs } from './features.js';

export interface Hyperparameters {
  /** Ridge penalty on the standardized features. */
  lambda: number;
  seed: number;
  /** Rows beyond this are subsampled (seeded) to bound training time. */
  maxRows: number;
  holdoutSteps: number;
  /**
   * 'log' fits log(y + shift): forecasts near the typical value rather than the mean of spiky
   * loads, which is what MAPE rewards; 'none' fits y itself.
   */
  transform: 'log' | 'none';
  /**
   * 'mape' scales forecasts by the factor that minimizes MAPE on the training rows (the weighted
   * median of actual / fitted); 'none' leaves them as fitted.
   */
  calibrate: 'mape' | 'none';
}

/** A ridge regression of one series on its features, as fitted (no band or baseline yet). */
export interface RidgeFit {
  algorithm: 'ridge-linear';
  spec: FeatureSpec;
  hyperparameters: Hyperparameters;
  center: number[];
  scale: number[];
  /** Added before the log (transform 'log'), so values down to the training minimum stay positive. */
  shift: number;
  /** Forecasts are multiplied by this (see Hyperparameters.calibrate). */
  factor: number;
  model: unknown;
}

export function fitRidge(raw: ModelInputs, spec: FeatureSpec, hp: Hyperparameters, rows: number[]): RidgeFit {
  const shift = hp.transform === 'log' ? shiftFor(raw.y, rows) : 0;
  const inp = transformed(raw, hp.transform, shift);
  const sample = rows.length > hp.maxRows ? subsample(rows, hp.maxRows, hp.seed) : rows;
  const x = sample.map((i) => featureRow(spec, inp, i));
  const width = x[0].length;
  const center = new Array<number>(width).fill(0);
  const scale = new Array<number>(width).fill(0);
  for (const r of x) for (let j = 0; j < width; j++) center[j] += r[j] / x.length;
  for (const r of x) for (let j = 0; j < width; j++) scale[j] += (r[j] - center[j]) ** 2 / x.length;
  for (let j = 0; j < width; j++) scale[j] = Math.sqrt(scale[j]) || 1;
  const design = x.map((r) => standardize(r, center, scale));
  const target = sample.map((i) => [inp.y[i]]);
  // Ridge as extra rows √λ·e_j with target 0, the intercept (last column) unpenalized.
  const root = Math.sqrt(hp.lambda);
  for (let j = 0; j < width; j++) {
    const r = new Array<number>(width + 1).fill(0);
    r[j] = root;
    design.push(r);
    target.push([0]);
  }
  const model = new MultivariateLinearRegression(design, target, { intercept: false, statistics: false });
  const fitted: RidgeFit = {
    algorithm: 'ridge-linear',
    spec,
    hyperparameters: hp,
    center,
    scale,
    shift,
    factor: 1,
    model: model.toJSON(),
  };
  if (hp.calibrate === 'mape') {
    fitted.factor = mapeFactor(
      sample.map((i) => raw.y[i]),
      predictRidge(fitted, raw, sample),
    );
  }
  return fitted;
}

export function predictRidge(art: RidgeFit, raw: ModelInputs, rows: number[]): number[] {
  if (rows.length === 0) return [];
  const model = MultivariateLinearRegression.load(art.model as MultivariateLinearRegression.MLRModel);
  const log = art.hyperparameters.transform === 'log';
  const inp = transformed(raw, art.hyperparameters.transform, art.shift);
  const x = rows.map((i) => standardize(featureRow(art.spec, inp, i), art.center, art.scale));
  return model.predict(x).map((r) => art.factor * (log ? Math.exp(r[0]) - art.shift : r[0]));
}

/** The κ minimizing Σ |y − κ·p| / |y|: the median of y/p weighted by |p/y|. */
export function mapeFactor(actual: number[], predicted: number[]): number {
  const pairs: { r: number; w: number }[] = [];
  actual.forEach((y, i) => {
    const p = predicted[i];
    if (Math.abs(y) > 1e-9 && Math.abs(p) > 1e-9 && Number.isFinite(p))
      pairs.push({ r: y / p, w: Math.abs(p / y) });
  });
  if (pairs.length === 0) return 1;
  pairs.sort((a, b) => a.r - b.r);
  const half = pairs.reduce((sum, x) => sum + x.w, 0) / 2;
  let acc = 0;
  for (const x of pairs) {
    acc += x.w;
    if (acc >= half) return x.r;
  }
  return pairs[pairs.length - 1].r;
}

function shiftFor(y: Float64Array, rows: number[]): number {
  let min = Infinity;
  for (const i of rows) if (y[i] < min) min = y[i];
  return Math.max(0, -min) + 1;
}

/** The inputs as the model sees them: the target (and the parts) on the log scale for 'log'. */
function transformed(inp: ModelInputs, transform: Hyperparameters['transform'], shift: number): ModelInputs {
  if (transform !== 'log') return inp;
  return {
    ...inp,
    y: inp.y.map((v) => Math.log(Math.max(v + shift, 1e-9))),
    children: inp.children.map((c) => c.map((v) => Math.log1p(Math.max(v, 0)))),
  };
}

function standardize(row: number[], center: number[], scale: number[]): number[] {
  const out = row.map((v, j) => (v - center[j]) / scale[j]);
  out.push(1);
  return out;
}

/** `count` of `rows`, chosen by a seeded shuffle and kept in order. */
function subsample(rows: number[], count: number, seed: number): number[] {
  const random = mulberry32(seed);
  const copy = [...rows];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count).sort((a, b) => a - b);
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
