import { Inject, Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsRegistry } from '../metrics/metrics-registry.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { ForecastingRepository, type ForecastingSummary } from './forecasting.repository.js';

/** What the summary read may take before a scrape answers without the forecasting figures. */
const READ_TIMEOUT_MS = 2000;
/** Collectors of one scrape share one read. */
const REUSE_MS = 1000;

/**
 * The MLOps loop on /metrics: models by status, the active models' holdout error and drift
 * (rolling error ÷ holdout error, what a retrain compares with FORECAST_DRIFT_FACTOR), and the
 * loop's events by kind (trained, training_failed, promoted, rejected, rollback, pinned, drift,
 * fallback). Read from the database at scrape time, so every replica shows the same figures,
 * whichever of them trained; rate() over `twin_forecast_events` gives training runs per second.
 */
@Injectable()
export class ForecastMetrics {
  private readonly logger = new Logger('ForecastMetrics');
  private last?: { at: number; read: Promise<ForecastingSummary | undefined> };

  constructor(
    @Inject(MetricsRegistry) registry: MetricsRegistry,
    @Inject(ForecastingRepository) private readonly repo: ForecastingRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
  ) {
    const registers = [registry];
    const summary = () => this.summary();
    new Gauge({
      name: 'twin_forecast_models',
      help: 'Forecast model versions in the registry, by status (all replicas)',
      labelNames: ['status'],
      registers,
      async collect() {
        this.reset();
        const s = await summary();
        for (const m of s?.models ?? []) this.set({ status: m.status }, m.count);
      },
    });
    new Gauge({
      name: 'twin_forecast_active_holdout_mape',
      help: 'Mean holdout MAPE of the active models (fraction, 0.1 = 10 %)',
      registers,
      async collect() {
        this.reset();
        const active = (await summary())?.models.find((m) => m.status === 'active');
        if (active?.holdoutMape != null) this.set(active.holdoutMape);
      },
    });
    new Gauge({
      name: 'twin_forecast_active_drift_ratio',
      help: "Active models' rolling error over their holdout error (stat: mean or max); a retrain starts past FORECAST_DRIFT_FACTOR",
      labelNames: ['stat'],
      registers,
      async collect() {
        this.reset();
        const active = (await summary())?.models.find((m) => m.status === 'active');
        if (active?.driftRatio != null) this.set({ stat: 'mean' }, active.driftRatio);
        if (active?.maxDriftRatio != null) this.set({ stat: 'max' }, active.maxDriftRatio);
      },
    });
    new Gauge({
      name: 'twin_forecast_events',
      help: 'MLOps events recorded so far, by kind (all replicas; use increase() or rate())',
      labelNames: ['kind'],
      registers,
      async collect() {
        this.reset();
        for (const e of (await summary())?.events ?? []) this.set({ kind: e.kind }, e.count);
      },
    });
  }

  private summary(): Promise<ForecastingSummary | undefined> {
    const now = Date.now();
    if (this.last && now - this.last.at < REUSE_MS) return this.last.read;
    const read = Promise.race([
      this.repo.summary(this.tx.bounded),
      new Promise<undefined>((ok) => setTimeout(() => ok(undefined), READ_TIMEOUT_MS).unref()),
    ]).catch((err: unknown) => {
      this.logger.warn(`forecasting figures not read: ${(err as Error).message}`);
      return undefined;
    });
    this.last = { at: now, read };
    return read;
  }
}
