import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { ForecastData, type TargetContext } from './forecast-data.service.js';
import { ForecastQueueFull } from './forecast-pool.js';
import { ForecastPublisher } from './forecast-publisher.service.js';
import { modelView, type ModelView } from './forecast-view.js';
import { ForecastWorkers } from './forecast-workers.js';
import { ForecastingErrors } from './forecasting.errors.js';
import { ForecastingRepository, type ModelRow } from './forecasting.repository.js';
import type { ErrorMetrics } from './metrics.js';
import { promotes, rollbackTarget } from './mlops.js';
import type { LearnedArtefact } from './model.js';
import type { SeriesWindow, TrainResult } from './pipeline.js';

export type TrainReason = 'api' | 'schedule' | 'drift';

export interface TrainOutcome {
  model: ModelView;
  promoted: boolean;
  reason: string;
}

/**
 * The model registry's side of the loop: trains a target's model in a worker (under the target's
 * lease), registers it as a version, promotes it only if it beats the active one on the newest
 * holdout, pins and rolls back versions; each change of the active model is then published to
 * the twin (ForecastPublisher).
 */
@Injectable()
export class ForecastingService {
  /** This replica, as lease holder. */
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    @Inject(ForecastingRepository) private readonly repo: ForecastingRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(ForecastData) private readonly data: ForecastData,
    @Inject(ForecastWorkers) private readonly workers: ForecastWorkers,
    @Inject(ForecastPublisher) private readonly publisher: ForecastPublisher,
    @Inject(ConfigService) private readonly config: ConfigService,
  ) {}

  async models(thingId: string): Promise<ModelView[]> {
    return (await this.repo.models(this.tx.db, thingId)).map(modelView);
  }

  async model(id: string): Promise<ModelRow> {
    const row = UUID.test(id) ? await this.repo.model(this.tx.db, id) : undefined;
    if (!row) throw ForecastingErrors.modelNotFound(id);
    return row;
  }

  async train(thingId: string, reason: TrainReason): Promise<TrainOutcome> {
    const ctx = await this.data.context(thingId);
    const { target } = ctx.spec;
    const leaseMs = this.config.get('FORECAST_LEASE_MS');
    if (!(await this.repo.acquireLease(this.tx.db, thingId, target, this.holder, leaseMs)))
      throw ForecastingErrors.trainingBusy(thingId);
    try {
      return await this.trainLeased(ctx, reason);
    } finally {
      await this.repo.releaseLease(this.tx.db, thingId, target, this.holder);
    }
  }

  private async trainLeased(ctx: TargetContext, reason: TrainReason): Promise<TrainOutcome> {
    const { thingId, spec } = ctx;
    const topology = this.config.get('FORECAST_TOPOLOGY');
    const win = await this.data.window(ctx, Date.now(), this.config.get('FORECAST_TRAIN_DAYS'), topology);
    const timeout = this.config.get('FORECAST_TRAIN_TIMEOUT_MS');
    let result: TrainResult;
    try {
      // Not worth a worker: the pipeline needs three days (two of lags and one of holdout).
      if (win.y.length * win.stepMs < MIN_HISTORY_MS)
        throw new Error(
          `needs at least 3 days of history, has ${((win.y.length * win.stepMs) / 86_400_000).toFixed(1)}`,
        );
      result = await this.workers.run<TrainResult>(
        { kind: 'train', request: { ...win, horizonMs: spec.horizonMs, topology } },
        timeout,
      );
    } catch (err) {
      // Not a failure of the model: nothing was tried.
      if (err instanceof ForecastQueueFull) throw ForecastingErrors.queueFull(thingId);
      const why = err instanceof Error ? err.message : String(err);
      await this.repo.addEvent(this.tx.db, {
        thingId,
        target: spec.target,
        kind: 'training_failed',
        detail: { reason, error: why },
      });
      throw ForecastingErrors.trainingFailed(thingId, why);
    }
    const champion = await this.repo.active(this.tx.db, thingId, spec.target);
    const championScore = champion ? await this.championScore(champion, win, result) : null;
    const decision = promotes(result.holdout.learned, championScore);
    const parts = topology ? (win.parts ?? []) : [];
    const row = await this.tx.run(async (t) => {
      const model = await this.repo.insertModel(
        t,
        {
          thingId,
          target: spec.target,
          algorithm: result.artefact.algorithm,
          hyperparameters: { ...result.artefact.hyperparameters, features: result.artefact.spec },
          trainFrom: new Date(result.window.from),
          trainTo: new Date(result.window.to),
          holdoutFrom: new Date(result.holdout.from),
          fingerprint: result.fingerprint,
          metrics: result.holdout.learned,
          baseline: {
            naive: result.holdout.naive,
            naiveDay: result.holdout.naiveDay,
            naiveWeek: result.holdout.naiveWeek,
          },
          parts,
          artefact: result.artefact,
        },
        'candidate',
      );
      const detail = { reason, fingerprint: result.fingerprint, metrics: result.holdout.learned };
      await this.repo.addEvent(t, {
        thingId,
        target: spec.target,
        modelId: model.id,
        kind: 'trained',
        detail,
      });
      if (decision.promote) {
        await this.repo.activate(t, model.id);
        await this.repo.addEvent(t, {
          thingId,
          target: spec.target,
          modelId: model.id,
          kind: 'promoted',
          detail: { reason: decision.reason, replaced: champion?.id ?? null, champion: championScore },
        });
      } else {
        await this.repo.addEvent(t, {
          thingId,
          target: spec.target,
          modelId: model.id,
          kind: 'rejected',
          detail: { reason: decision.reason, active: champion?.id ?? null, champion: championScore },
        });
      }
      return model;
    });
    await this.publisher.publishSafely(ctx);
    return {
      model: modelView((await this.repo.model(this.tx.db, row.id))!),
      promoted: decision.promote,
      reason: decision.reason,
    };
  }

  /** The active model's error on the candidate's holdout window; null when it cannot be evaluated there. */
  private async championScore(
    champion: ModelRow,
    win: SeriesWindow,
    result: TrainResult,
  ): Promise<ErrorMetrics | null> {
    const artefact = (await this.repo.artefact(this.tx.db, champion.id)) as LearnedArtefact;
    const from = Math.round((result.holdout.from - win.startMs) / win.stepMs);
    try {
      const m = await this.workers.run<ErrorMetrics | null>(
        { kind: 'evaluate', artefact, window: win, from },
        this.config.get('FORECAST_TRAIN_TIMEOUT_MS'),
      );
      return m && m.n > 0 ? m : null;
    } catch {
      return null;
    }
  }

  /** Makes a version the active one of its target (pin), then forecasts with it. */
  async pin(id: string): Promise<ModelView> {
    const row = await this.model(id);
    await this.tx.run(async (t) => {
      await this.repo.activate(t, row.id);
      await this.repo.addEvent(t, {
        thingId: row.thingId,
        target: row.target,
        modelId: row.id,
        kind: 'pinned',
      });
    });
    await this.publisher.publishSafely(await this.data.context(row.thingId));
    return modelView((await this.repo.model(this.tx.db, row.id))!);
  }

  /** Returns the target to the version active before the current one. */
  async rollback(thingId: string): Promise<ModelView> {
    const ctx = await this.data.context(thingId);
    const rows = await this.repo.models(this.tx.db, thingId, ctx.spec.target);
    const back = rollbackTarget(rows);
    if (!back) throw ForecastingErrors.rollbackUnavailable(thingId);
    const from = rows.find((r) => r.status === 'active');
    await this.tx.run(async (t) => {
      await this.repo.activate(t, back.id);
      await this.repo.addEvent(t, {
        thingId,
        target: ctx.spec.target,
        modelId: back.id,
        kind: 'rollback',
        detail: { from: from?.id ?? null, to: back.id, version: back.version },
      });
    });
    await this.publisher.publishSafely(ctx);
    return modelView((await this.repo.model(this.tx.db, back.id))!);
  }

  /** When the target was last trained (any outcome but failure), if ever. */
  lastTrained(ctx: TargetContext): Promise<Date | undefined> {
    return this.repo.lastTrained(this.tx.db, ctx.thingId, ctx.spec.target);
  }
}

const MIN_HISTORY_MS = 3 * 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
