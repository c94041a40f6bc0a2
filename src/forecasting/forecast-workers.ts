import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { ConfigService } from '../config/config.service.js';
import { MetricsRegistry } from '../metrics/metrics-registry.js';
import { ForecastPool, ForecastQueueFull } from './forecast-pool.js';
import type { WorkerTask } from './forecast.worker.js';

/**
 * The app's forecast worker pool (FORECAST_WORKERS threads, at most FORECAST_QUEUE_MAX jobs
 * waiting), shared by training and serving. A task refused because the queue is full is counted
 * on /metrics (`twin_forecast_queue_refused_total`, by task kind) and rethrown: the caller defers.
 */
@Injectable()
export class ForecastWorkers implements OnModuleDestroy {
  private readonly pool: ForecastPool;
  private readonly refused: Counter<'kind'>;

  constructor(
    @Inject(ConfigService) config: ConfigService,
    @Inject(MetricsRegistry) registry: MetricsRegistry,
  ) {
    const pool = new ForecastPool(config.get('FORECAST_WORKERS'), config.get('FORECAST_QUEUE_MAX'));
    this.pool = pool;
    this.refused = new Counter({
      name: 'twin_forecast_queue_refused_total',
      help: 'Forecast worker tasks refused because FORECAST_QUEUE_MAX jobs were waiting (this replica), by kind',
      labelNames: ['kind'],
      registers: [registry],
    });
    new Gauge({
      name: 'twin_forecast_queue_depth',
      help: 'Forecast worker tasks waiting for a worker (this replica)',
      registers: [registry],
      collect() {
        this.set(pool.queued);
      },
    });
  }

  async run<T>(task: WorkerTask, timeoutMs: number): Promise<T> {
    try {
      return await this.pool.run<T>(task, timeoutMs);
    } catch (err) {
      if (err instanceof ForecastQueueFull) this.refused.inc({ kind: task.kind });
      throw err;
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }
}
