import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';
import type { PropertyRef } from '../telemetry/telemetry.types.js';
import { matchForecasts, stepMetrics, type EvaluatedStep } from './evaluation.js';
import { ForecastData, type TargetContext } from './forecast-data.service.js';
import { forecastFeature, metricsView, type ForecastFeature, type MetricsView } from './forecast-view.js';
import { ForecastingErrors } from './forecasting.errors.js';
import { ForecastingRepository } from './forecasting.repository.js';
import { drifted, rollForward } from './mlops.js';

export interface Evaluation extends PropertyRef {
  target: string;
  from: string;
  to: string;
  step: string;
  metrics: MetricsView | null;
  points: EvaluatedStep[];
}

/** Runs a window may draw forecasts from; a run covers one horizon, so this spans weeks of runs. */
const MAX_RUNS = 5000;
/** A drift check looks back at most this far, however long ago the last one was. */
const DRIFT_LOOKBACK_MS = 2 * 86_400_000;

/** Forecasts against actuals: the evaluation API and the drift check of the MLOps loop. */
@Injectable()
export class ForecastMonitor {
  constructor(
    @Inject(ForecastingRepository) private readonly repo: ForecastingRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(TelemetryService) private readonly telemetry: TelemetryService,
    @Inject(ForecastData) private readonly data: ForecastData,
    @Inject(ConfigService) private readonly config: ConfigService,
  ) {}

  /** Per step over [fromMs, toMs): the actual, the forecast current at the time, the error; and the metrics. */
  async evaluation(ref: PropertyRef, fromMs: number, toMs: number): Promise<Evaluation> {
    const ctx = await this.targetOf(ref);
    const step = ctx.spec.stepMs;
    const from = Math.floor(fromMs / step) * step;
    if ((toMs - from) / step > 10_000)
      throw ForecastingErrors.queryInvalid(`The range holds more than 10000 steps of ${ctx.spec.step}.`);
    const actuals = (await this.telemetry.averages(ref, from, toMs, step)).filter((a) => a.ts >= fromMs);
    const runs = await this.repo.runs(
      this.tx.db,
      ref.thingId,
      ctx.spec.target,
      new Date(fromMs),
      new Date(toMs),
      MAX_RUNS,
    );
    const points = matchForecasts(runs, actuals, step);
    return {
      ...ref,
      target: ctx.spec.target,
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      step: ctx.spec.step,
      metrics: metricsView(points.length > 0 ? stepMetrics(points) : null),
      points,
    };
  }

  /** The latest forecast of the property, in the shape of the twin's `forecast` feature. */
  async current(ref: PropertyRef): Promise<ForecastFeature> {
    const ctx = await this.targetOf(ref);
    const run = await this.repo.latestRun(this.tx.db, ref.thingId, ctx.spec.target);
    if (!run) throw ForecastingErrors.forecastNotFound(ref.thingId, ctx.spec.target);
    const model = run.modelId
      ? await this.repo.model(this.tx.db, run.modelId)
      : await this.repo.active(this.tx.db, ref.thingId, ctx.spec.target);
    return forecastFeature(
      ctx.spec,
      model,
      { points: run.points, fallback: run.fallback },
      new Date(run.generatedAt),
    );
  }

  /**
   * Compares the readings that arrived since the last check with what the active model forecast
   * for their times, folds the errors into its rolling error, and says whether that drifted past
   * its holdout error × FORECAST_DRIFT_FACTOR (then records a drift event and starts the count anew).
   */
  async checkDrift(ctx: TargetContext, nowMs: number): Promise<boolean> {
    const active = await this.repo.active(this.tx.db, ctx.thingId, ctx.spec.target);
    if (!active) return false;
    const step = ctx.spec.stepMs;
    // Only whole steps: the current one is still filling.
    const to = Math.floor(nowMs / step) * step;
    const since = Date.parse(active.checkedUntil ?? active.activatedAt ?? active.createdAt);
    const from = Math.max(Math.floor(since / step) * step, to - DRIFT_LOOKBACK_MS);
    if (to <= from) return false;
    const ref = { thingId: ctx.thingId, featureId: ctx.spec.featureId, path: ctx.spec.path };
    const actuals = await this.telemetry.averages(ref, from, to, step);
    const runs = (
      await this.repo.runs(this.tx.db, ctx.thingId, ctx.spec.target, new Date(from), new Date(to), MAX_RUNS)
    ).filter((r) => r.modelId === active.id && !r.fallback);
    const steps = matchForecasts(runs, actuals, step);
    const state = rollForward(
      { mae: active.rollingMae, n: active.rollingN },
      steps.map((s) => Math.abs(s.error)),
      Math.round(86_400_000 / step),
    );
    const factor = this.config.get('FORECAST_DRIFT_FACTOR');
    const drift = drifted(state, active.metrics.mae, factor, this.config.get('FORECAST_DRIFT_MIN_READINGS'));
    if (!drift) {
      await this.repo.updateRolling(this.tx.db, active.id, state.mae, state.n, new Date(to));
      return false;
    }
    await this.tx.run(async (t) => {
      await this.repo.updateRolling(t, active.id, null, 0, new Date(to));
      await this.repo.addEvent(t, {
        thingId: ctx.thingId,
        target: ctx.spec.target,
        modelId: active.id,
        kind: 'drift',
        detail: { rollingMae: state.mae, readings: state.n, holdoutMae: active.metrics.mae, factor },
      });
    });
    return true;
  }

  private async targetOf(ref: PropertyRef): Promise<TargetContext> {
    const ctx = await this.data.context(ref.thingId);
    if (ctx.spec.featureId !== ref.featureId || ctx.spec.path !== ref.path)
      throw ForecastingErrors.forecastNotFound(ref.thingId, `${ref.featureId}/${ref.path}`);
    return ctx;
  }
}
