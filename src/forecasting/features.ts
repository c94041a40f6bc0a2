const DAY_MS = 86_400_000;
const WEEK_DAYS = 7;

/** The series a model learns from and forecasts, all on one grid (index i is startMs + i·stepMs). */
export interface ModelInputs {
  startMs: number;
  stepMs: number;
  /** The target; slots to forecast are NaN. */
  y: Float64Array;
  /** Outdoor temperature of the thing, when it has one. */
  temperature?: Float64Array;
  /** The targets of the thing's parts (attributes/partOf), in a fixed order. */
  children: Float64Array[];
}

/** Which features a model uses; fixed at training, kept in the artefact. */
export interface FeatureSpec {
  stepMs: number;
  horizonSteps: number;
  daySlots: number;
  /** The nearest lag every forecast step knows: whole days, at least the horizon. */
  lagSlots: number;
  /** The same time a week earlier, when the history is long enough to learn from it. */
  weekSlots: number | null;
  /**
   * Hour of day apart for weekends, and day of week. Off with less than two weeks of history:
   * a weekend seen once (or only in the holdout) teaches noise. Absent in artefacts trained
   * before it existed, which learned with it on.
   */
  weekCalendar?: boolean;
  temperature: boolean;
  children: number;
}

export function featureSpec(
  stepMs: number,
  horizonMs: number,
  length: number,
  opts: { temperature: boolean; children: number },
): FeatureSpec {
  const daySlots = Math.round(DAY_MS / stepMs);
  const lagSlots = Math.ceil(horizonMs / DAY_MS) * daySlots;
  const weekSlots = WEEK_DAYS * daySlots;
  // The week lag costs a week of rows: worth it with two weeks or more of history.
  const useWeek = weekSlots >= lagSlots && length >= 2 * weekSlots;
  return {
    weekCalendar: length >= 2 * weekSlots,
    stepMs,
    horizonSteps: Math.round(horizonMs / stepMs),
    daySlots,
    lagSlots,
    weekSlots: useWeek ? weekSlots : null,
    temperature: opts.temperature,
    children: opts.children,
  };
}

/** The first index whose features are all known. */
export function firstUsable(spec: FeatureSpec): number {
  return Math.max(spec.lagSlots + spec.daySlots - 1, spec.weekSlots ?? 0);
}

/**
 * The features of slot i, from values at i − lagSlots and earlier only (so the same row serves
 * every forecast origin up to lagSlots before i): hour of day apart for weekdays and weekends,
 * day of week; the target at the lag, its mean over the day ending there, a week back and its
 * mean over the same slot of the past week; the outdoor temperature at the lag (yesterday's as
 * the forecast of today's) with heating and cooling degrees; each part's same-slot mean (its
 * value at the lag with less than two weeks of history). Calendar in UTC.
 */
export function featureRow(spec: FeatureSpec, inp: ModelInputs, i: number): number[] {
  const ts = new Date(inp.startMs + i * inp.stepMs);
  const hour = ts.getUTCHours();
  const dow = ts.getUTCDay();
  const weekend = dow === 0 || dow === 6;
  const row = new Array<number>(48 + 7).fill(0);
  if (spec.weekCalendar === false) row[hour] = 1;
  else {
    row[hour + (weekend ? 24 : 0)] = 1;
    row[48 + dow] = 1;
  }
  const lag = i - spec.lagSlots;
  const lagged = (s: Float64Array): void => {
    row.push(s[lag], dayMean(s, lag, spec.daySlots));
    if (spec.weekSlots !== null) row.push(s[i - spec.weekSlots], slotMean(s, i, spec));
  };
  lagged(inp.y);
  if (spec.temperature && inp.temperature) {
    const t = inp.temperature[lag];
    row.push(t, Math.max(0, 16 - t), Math.max(0, t - 22), dayMean(inp.temperature, lag, spec.daySlots));
  }
  // Parts as columns: only models trained before parts were modelled bottom-up (bottom-up.ts)
  // have spec.children > 0 here; they keep forecasting as they were trained.
  for (let c = 0; c < spec.children; c++) {
    const part = inp.children[c];
    row.push(spec.weekSlots !== null ? slotMean(part, i, spec) : part[lag]);
  }
  return row;
}

/** The mean of the same slot over the days from the lag back to a week before i: a robust daily profile. */
function slotMean(s: Float64Array, i: number, spec: FeatureSpec): number {
  let sum = 0;
  let n = 0;
  for (let j = i - spec.lagSlots; j >= i - (spec.weekSlots ?? 0); j -= spec.daySlots) {
    sum += s[j];
    n++;
  }
  return sum / n;
}

function dayMean(s: Float64Array, end: number, slots: number): number {
  let sum = 0;
  for (let j = end - slots + 1; j <= end; j++) sum += s[j];
  return sum / slots;
}
