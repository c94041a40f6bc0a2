/** Forecast errors: MAPE in percent (points whose actual is 0 are left out of it), MAE and RMSE in the series' unit. */
export interface ErrorMetrics {
  mape: number | null;
  mae: number;
  rmse: number;
  /** Points compared (NaN actuals or forecasts are skipped). */
  n: number;
}

/** Below this an actual counts as zero for MAPE, whose term would be unbounded. */
const ZERO = 1e-9;

export function errorMetrics(actual: ArrayLike<number>, forecast: ArrayLike<number>): ErrorMetrics {
  let n = 0;
  let abs = 0;
  let sq = 0;
  let pct = 0;
  let pctN = 0;
  const len = Math.min(actual.length, forecast.length);
  for (let i = 0; i < len; i++) {
    const a = actual[i];
    const f = forecast[i];
    if (!Number.isFinite(a) || !Number.isFinite(f)) continue;
    const e = a - f;
    n++;
    abs += Math.abs(e);
    sq += e * e;
    if (Math.abs(a) > ZERO) {
      pct += Math.abs(e / a);
      pctN++;
    }
  }
  if (n === 0) return { mape: null, mae: NaN, rmse: NaN, n: 0 };
  return { mape: pctN === 0 ? null : (100 * pct) / pctN, mae: abs / n, rmse: Math.sqrt(sq / n), n };
}

/** The q-quantile (0..1) of the finite values, by linear interpolation between order statistics. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values)
    .filter((v) => Number.isFinite(v))
    .sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
