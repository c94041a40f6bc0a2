import { performance } from 'node:perf_hooks';
import { generateHomes, type GeneratedHome } from '../simulators/profiles/homes.js';
import { ForecastPool } from '../src/forecasting/forecast-pool.js';
import { errorMetrics } from '../src/forecasting/metrics.js';
import type { LearnedArtefact } from '../src/forecasting/model.js';
import {
  forecast,
  naive,
  train,
  type ForecastResult,
  type SeriesWindow,
  type TrainRequest,
  type TrainResult,
} from '../src/forecasting/pipeline.js';

/**
 * The forecasting pipeline on simulated homes (simulators/profiles/homes.ts): HOMES homes × 60
 * days at 15 min, trained on the first 53 days, tested on the last 7 with a 24 h horizon from a
 * rolling origin every ORIGIN_HOURS. MAPE of the seasonal-naive baseline, the learned model on the
 * home meter alone and with its sub-meters (topology); the time to train every home's model and
 * to compute 1,000 forecasts, in the worker pool the app uses (WORKERS threads) and, as the bare
 * baseline, in this thread.
 *
 *   npm run bench:forecast           (HOMES=50 WORKERS=2 ORIGIN_HOURS=6 SEED=2026 by default)
 */
const HOMES = Number(process.env.HOMES ?? 50);
const WORKERS = Number(process.env.WORKERS ?? 2);
const ORIGIN_HOURS = Number(process.env.ORIGIN_HOURS ?? 6);
const SEED = Number(process.env.SEED ?? 2026);
const DAYS = 60;
const TRAIN_DAYS = 53;
const STEP_MIN = 15;
const STEP_MS = STEP_MIN * 60_000;
const DAY_SLOTS = 96;
const HORIZON_MS = 86_400_000;
/** History a forecast is given: enough for the week lag and a day's mean before it. */
const CONTEXT_DAYS = 9;
const FORECASTS = 1000;
const TIMEOUT_MS = 600_000;

type Variant = 'home' | 'topology';

function slice(a: Float64Array, from: number, to: number): number[] {
  return Array.from(a.subarray(from, to));
}

function window(h: GeneratedHome, from: number, to: number, topology: boolean): SeriesWindow {
  return {
    startMs: h.timestamps[from],
    stepMs: STEP_MS,
    y: slice(h.home, from, to),
    temperature: slice(h.outdoorTemperature, from, to),
    children: topology ? h.appliances.map((a) => slice(a.series, from, to)) : [],
  };
}

function trainRequest(h: GeneratedHome, topology: boolean): TrainRequest {
  return { ...window(h, 0, TRAIN_DAYS * DAY_SLOTS, topology), horizonMs: HORIZON_MS, topology };
}

/** Rolling origins in the test week whose whole horizon lies inside the data. */
function origins(): number[] {
  const out: number[] = [];
  const step = (ORIGIN_HOURS * DAY_SLOTS) / 24;
  for (let o = TRAIN_DAYS * DAY_SLOTS; o + DAY_SLOTS <= DAYS * DAY_SLOTS; o += step) out.push(o);
  return out;
}

interface Job {
  home: GeneratedHome;
  origin: number;
  variant: Variant;
  artefact: LearnedArtefact;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const homes = generateHomes({
    seed: SEED,
    homes: HOMES,
    days: DAYS,
    stepMinutes: STEP_MIN,
    start: Date.parse('2025-01-06T00:00:00Z'),
  });
  const genMs = performance.now() - t0;
  const pool = new ForecastPool(WORKERS);
  // Workers start before the clock does, as they do in a running app.
  await Promise.all(
    Array.from({ length: WORKERS }, () =>
      pool.run({ kind: 'train', request: trainRequest(homes[0], false) }, TIMEOUT_MS),
    ),
  );

  const trained = new Map<Variant, TrainResult[]>();
  const trainMs = new Map<Variant, number>();
  for (const variant of ['home', 'topology'] as const) {
    const start = performance.now();
    const results = await Promise.all(
      homes.map((h) =>
        pool.run<TrainResult>(
          { kind: 'train', request: trainRequest(h, variant === 'topology') },
          TIMEOUT_MS,
        ),
      ),
    );
    trainMs.set(variant, performance.now() - start);
    trained.set(variant, results);
  }
  const bareStart = performance.now();
  for (const h of homes) train(trainRequest(h, true));
  const bareTrainMs = performance.now() - bareStart;

  const jobs: Job[] = [];
  for (const origin of origins())
    for (const variant of ['home', 'topology'] as const)
      homes.forEach((home, i) =>
        jobs.push({ home, origin, variant, artefact: trained.get(variant)![i].artefact }),
      );
  const windowOf = (j: Job) =>
    window(j.home, j.origin - CONTEXT_DAYS * DAY_SLOTS, j.origin, j.variant === 'topology');

  const timed = jobs.slice(0, FORECASTS);
  const poolStart = performance.now();
  await Promise.all(
    timed.map((j) =>
      pool.run<ForecastResult>({ kind: 'forecast', artefact: j.artefact, window: windowOf(j) }, TIMEOUT_MS),
    ),
  );
  const poolForecastMs = performance.now() - poolStart;
  const bareFcStart = performance.now();
  for (const j of timed) forecast(j.artefact, windowOf(j));
  const bareForecastMs = performance.now() - bareFcStart;

  const actual: Record<'naive' | Variant, number[]> = { naive: [], home: [], topology: [] };
  const predicted: Record<'naive' | Variant, number[]> = { naive: [], home: [], topology: [] };
  let fallbacks = 0;
  for (const j of jobs) {
    const win = windowOf(j);
    const r = forecast(j.artefact, win);
    if (r.fallback) fallbacks++;
    const truth = slice(j.home.home, j.origin, j.origin + DAY_SLOTS);
    actual[j.variant].push(...truth);
    predicted[j.variant].push(...r.points.map((p) => p.value));
    if (j.variant === 'home') {
      actual.naive.push(...truth);
      predicted.naive.push(...naive(j.artefact, win, 'baseline').points.map((p) => p.value));
    }
  }
  await pool.close();

  const m = (k: 'naive' | Variant) => errorMetrics(actual[k], predicted[k]);
  const naiveM = m('naive');
  const homeM = m('home');
  const topoM = m('topology');
  const row = (name: string, e: ReturnType<typeof errorMetrics>, note = '') =>
    `| ${name.padEnd(26)} | ${e.mape!.toFixed(2).padStart(7)} | ${e.mae.toFixed(1).padStart(7)} | ${e.rmse.toFixed(1).padStart(7)} | ${note}`;
  const periods = trained.get('home')!.map((r) => r.artefact.naive.period);
  console.log(
    `\n${HOMES} homes × ${DAYS} days at ${STEP_MIN} min (seed ${SEED}, generated in ${(genMs / 1000).toFixed(1)} s); ` +
      `train ${TRAIN_DAYS} days, test 7 days, 24 h horizon from ${origins().length} rolling origins every ${ORIGIN_HOURS} h; ` +
      `${jobs.length} forecasts, ${fallbacks} fell back.\n`,
  );
  console.log('| model                      | MAPE %  | MAE W   | RMSE W  |');
  console.log('|----------------------------|---------|---------|---------|');
  console.log(
    row(
      'seasonal naive',
      naiveM,
      `period per home from the holdout: ${periods.filter((p) => p === 'day').length} day, ${periods.filter((p) => p === 'week').length} week`,
    ),
  );
  console.log(
    row('learned (home meter)', homeM, `${(homeM.mape! / naiveM.mape!).toFixed(3)} × naive (target ≤ 0.8)`),
  );
  console.log(
    row('learned + topology', topoM, `${(topoM.mape! / homeM.mape!).toFixed(3)} × without (target ≤ 0.95)`),
  );
  console.log('');
  console.log('| timing                                      | seconds |');
  console.log('|---------------------------------------------|---------|');
  console.log(
    `| train ${HOMES} homes, home meter, ${WORKERS} workers        | ${(trainMs.get('home')! / 1000).toFixed(2).padStart(7)} |`,
  );
  console.log(
    `| train ${HOMES} homes, with topology, ${WORKERS} workers     | ${(trainMs.get('topology')! / 1000).toFixed(2).padStart(7)} | target < 60`,
  );
  console.log(
    `| train ${HOMES} homes, with topology, this thread   | ${(bareTrainMs / 1000).toFixed(2).padStart(7)} | bare baseline`,
  );
  console.log(
    `| ${FORECASTS} forecasts, ${WORKERS} workers                     | ${(poolForecastMs / 1000).toFixed(2).padStart(7)} | target < 5`,
  );
  console.log(
    `| ${FORECASTS} forecasts, this thread               | ${(bareForecastMs / 1000).toFixed(2).padStart(7)} | bare baseline`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
