import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { TwinsService } from '../twins/twins.service.js';
import { ForecastData, type TargetContext } from './forecast-data.service.js';
import { ForecastQueueFull } from './forecast-pool.js';
import { forecastFeature, type ForecastFeature } from './forecast-view.js';
import { ForecastWorkers } from './forecast-workers.js';
import { ForecastingErrors } from './forecasting.errors.js';
import { ForecastingRepository, type ModelRow } from './forecasting.repository.js';
import type { LearnedArtefact } from './model.js';
import { naive, naiveWithoutModel, type ForecastResult } from './pipeline.js';
import { FORECAST_FEATURE } from './target.js';

/**
 * Serving: forecasts the next horizon of a target with its active model in a worker and writes
 * it to the twin (feature `forecast`, through the twin write path) and to the run history. A
 * model that fails or takes longer than FORECAST_INFERENCE_TIMEOUT_MS is replaced by the
 * seasonal-naive forecast, flagged on the twin and recorded as a `fallback` event.
 */
@Injectable()
export class ForecastPublisher {
  private readonly logger = new Logger(ForecastPublisher.name);
  /** Targets whose last forecast was a fallback (an event marks only the change). */
  private readonly fallingBack = new Set<string>();

  constructor(
    @Inject(ForecastingRepository) private readonly repo: ForecastingRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(ForecastData) private readonly data: ForecastData,
    @Inject(TwinsService) private readonly twins: TwinsService,
    @Inject(ForecastWorkers) private readonly workers: ForecastWorkers,
    @Inject(ConfigService) private readonly config: ConfigService,
  ) {}

  async publishSafely(ctx: TargetContext): Promise<void> {
    try {
      await this.publish(ctx);
    } catch (err) {
      this.logger.warn(
        `forecast of ${ctx.thingId} not published: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /**
   * Forecasts the next horizon with the active model (the seasonal-naive one without a model,
   * or when the model fails or times out) and writes it to the twin and the run history. With
   * the workers' queue full nothing is written (the twin keeps its forecast) and
   * forecasting:queue.full is thrown, for the caller to come back later.
   */
  async publish(ctx: TargetContext): Promise<ForecastFeature | undefined> {
    const { thingId, spec } = ctx;
    const active = await this.repo.active(this.tx.db, thingId, spec.target);
    const artefact = active
      ? ((await this.repo.artefact(this.tx.db, active.id)) as LearnedArtefact)
      : undefined;
    const days = artefact
      ? Math.ceil(
          (Math.max(artefact.spec.weekSlots ?? 0, artefact.spec.lagSlots + artefact.spec.daySlots) + 1) /
            artefact.spec.daySlots,
        ) + 1
      : Math.ceil(spec.horizonMs / 86_400_000) + 1;
    const now = Date.now();
    // A model over parts reads the parts it was trained on, in that order, whatever the twins say now.
    const topology = (artefact?.spec.children ?? 0) > 0;
    const win = await this.data.window(
      topology ? { ...ctx, parts: active!.parts } : ctx,
      now,
      days,
      topology,
    );
    if (win.y.length === 0) return undefined;
    let result: ForecastResult;
    if (!artefact) result = naiveWithoutModel(win, spec.horizonMs, 'no trained model yet');
    else {
      try {
        result = await this.workers.run<ForecastResult>(
          { kind: 'forecast', artefact, window: win },
          this.config.get('FORECAST_INFERENCE_TIMEOUT_MS'),
        );
      } catch (err) {
        if (err instanceof ForecastQueueFull) throw ForecastingErrors.queueFull(thingId);
        result = naive(
          artefact,
          win,
          `the model failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    if (result.points.length === 0) return undefined;
    await this.noteFallback(ctx, active, result);
    const generatedAt = new Date(now);
    const feature = forecastFeature(spec, active, result, generatedAt);
    await this.twins.apply({
      type: 'modify',
      thingId,
      path: ['features', FORECAST_FEATURE],
      value: { properties: feature },
      origin: 'system',
    });
    await this.repo.addRun(this.tx.db, {
      thingId,
      target: spec.target,
      modelId: result.fallback ? null : (active?.id ?? null),
      generatedAt,
      fallback: result.fallback,
      points: result.points,
    });
    return feature;
  }

  private async noteFallback(
    ctx: TargetContext,
    active: ModelRow | undefined,
    r: ForecastResult,
  ): Promise<void> {
    const key = `${ctx.thingId}\u0000${ctx.spec.target}`;
    const was = this.fallingBack.has(key);
    if (r.fallback && active && !was) {
      this.fallingBack.add(key);
      await this.repo.addEvent(this.tx.db, {
        thingId: ctx.thingId,
        target: ctx.spec.target,
        modelId: active.id,
        kind: 'fallback',
        detail: { reason: r.reason ?? null },
      });
    } else if (!r.fallback && was) this.fallingBack.delete(key);
  }
}
