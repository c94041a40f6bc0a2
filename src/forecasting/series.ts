/** A series on a regular grid: values[i] is the mean of the readings in [startMs + i·stepMs, startMs + (i+1)·stepMs). */
export interface GridSeries {
  startMs: number;
  stepMs: number;
  values: Float64Array;
  /** How many slots had no reading and were filled. */
  filled: number;
}

/** Gaps up to this many slots are bridged linearly; longer ones take the value a day earlier (or later). */
export const MAX_LINEAR_GAP = 4;

/**
 * Puts bucket averages (ts = bucket start, any order, aligned on the step) on the grid
 * [startMs, endMs) and fills empty slots: short gaps linearly between their neighbours,
 * longer ones from the same time a day before (else a day after), and whatever is still empty
 * (a series shorter than a day) with the series mean. A series with no reading at all stays NaN.
 */
export function toGrid(
  buckets: readonly { ts: number; value: number }[],
  startMs: number,
  endMs: number,
  stepMs: number,
): GridSeries {
  const n = Math.max(0, Math.floor((endMs - startMs) / stepMs));
  const values = new Float64Array(n).fill(NaN);
  for (const b of buckets) {
    const i = Math.floor((b.ts - startMs) / stepMs);
    if (i >= 0 && i < n && Number.isFinite(b.value)) values[i] = b.value;
  }
  const filled = fillGaps(values, Math.round(86_400_000 / stepMs));
  return { startMs, stepMs, values, filled };
}

/** Fills NaN slots in place (see toGrid); returns how many were filled. */
export function fillGaps(values: Float64Array, daySlots: number): number {
  const missing: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i])) missing.push(i);
  if (missing.length === 0 || missing.length === values.length) return 0;
  const known = new Float64Array(values);
  // Linear for short runs with a known value on both sides.
  let k = 0;
  while (k < missing.length) {
    let end = k;
    while (end + 1 < missing.length && missing[end + 1] === missing[end] + 1) end++;
    const from = missing[k] - 1;
    const to = missing[end] + 1;
    const run = end - k + 1;
    if (run <= MAX_LINEAR_GAP && from >= 0 && to < values.length) {
      for (let j = k; j <= end; j++) {
        const f = (missing[j] - from) / (to - from);
        values[missing[j]] = known[from] + (known[to] - known[from]) * f;
      }
    }
    k = end + 1;
  }
  // Seasonal: the same slot a day away, from the original readings.
  for (const i of missing) {
    if (!Number.isNaN(values[i])) continue;
    for (let d = 1; d * daySlots <= values.length; d++) {
      const before = i - d * daySlots;
      const after = i + d * daySlots;
      if (before >= 0 && !Number.isNaN(known[before])) {
        values[i] = known[before];
        break;
      }
      if (after < values.length && !Number.isNaN(known[after])) {
        values[i] = known[after];
        break;
      }
    }
  }
  let sum = 0;
  let count = 0;
  for (let i = 0; i < known.length; i++) {
    if (!Number.isNaN(known[i])) {
      sum += known[i];
      count++;
    }
  }
  for (const i of missing) if (Number.isNaN(values[i])) values[i] = sum / count;
  return missing.length;
}
