import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { ConfigService } from '../config/config.service.js';
import { JournalFeed, type FeedSubscription } from '../journal/journal-feed.js';
import type { JournalEntry } from '../journal/journal.types.js';
import { ForecastData } from './forecast-data.service.js';
import { ForecastMonitor } from './forecast-monitor.service.js';
import { ForecastPublisher } from './forecast-publisher.service.js';
import { ForecastingService } from './forecasting.service.js';
import { changedPaths, ForecastSchedule } from './schedule.js';
import { FORECAST_FEATURE } from './target.js';

const OWN_WRITES = `/features/${FORECAST_FEATURE}`;
/** After a failed training (too little history, say) the target is left alone this long at most. */
const RETRY_AFTER_MS = 3_600_000;
/**
 * The journal says which things changed; a full scan of the targets catches what it could not
 * (things that existed before this replica started, a feed that was cut off).
 */
const RESCAN_MS = 3_600_000;

/**
 * The MLOps loop, every FORECAST_TICK_MS: drift checks for the things readings arrived for (as
 * the journal feed reports them, from any replica, once per completed step), retraining of targets
 * whose model is older than FORECAST_RETRAIN_EVERY (or on drift), and a fresh forecast once a step
 * has passed. Each target's next due time is remembered (schedule.ts), so a tick with nothing due
 * reads nothing. Training is leased per target in PostgreSQL, so replicas never train one target twice.
 */
@Injectable()
export class ForecastingScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ForecastingScheduler.name);
  private readonly schedule = new ForecastSchedule();
  private nextScan = 0;
  private subscription?: FeedSubscription;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(ForecastingService) private readonly forecasting: ForecastingService,
    @Inject(ForecastPublisher) private readonly publisher: ForecastPublisher,
    @Inject(ForecastMonitor) private readonly monitor: ForecastMonitor,
    @Inject(ForecastData) private readonly data: ForecastData,
    @Inject(JournalFeed) private readonly feed: JournalFeed,
    @Inject(ConfigService) private readonly config: ConfigService,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.get('FORECAST_ENABLED')) return;
    this.subscription = this.feed.subscribe((entries) => this.noteChanges(entries));
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, this.config.get('FORECAST_TICK_MS'));
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.subscription?.close();
    await this.running;
  }

  /** Things whose definition or features changed, other than by our own forecast writes. */
  private noteChanges(entries: readonly JournalEntry[]): void {
    for (const e of entries) {
      if (e.entity === 'policy') continue;
      for (const path of changedPaths(e.path, e.action, e.value))
        if (!path.startsWith(OWN_WRITES)) this.schedule.noteChange(e.thingId, path);
    }
  }

  /** One round of the loop; exported for the tests, which drive it instead of waiting. */
  async tick(now = Date.now()): Promise<void> {
    if (now >= this.nextScan) {
      this.nextScan = now + RESCAN_MS;
      try {
        for await (const thingId of this.data.targets()) this.schedule.noteTarget(thingId);
      } catch (err) {
        // The next tick scans again; what is already known keeps its schedule.
        this.nextScan = now;
        this.logger.warn(`forecast targets not listed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    for (const thingId of this.schedule.takeExamine()) {
      if (this.stopped) return;
      const step = await this.stepOf(thingId);
      if (step === 'unknown') this.schedule.noteTarget(thingId);
      else this.schedule.examined(thingId, step, now);
    }
    for (const thingId of this.schedule.takeDriftChecks(now)) {
      if (this.stopped) return;
      await this.guard(thingId, now, async () => {
        const ctx = await this.data.context(thingId);
        if (await this.monitor.checkDrift(ctx, now)) {
          await this.forecasting.train(thingId, 'drift');
          this.schedule.dueAt(thingId, now + ctx.spec.stepMs);
        }
      });
    }
    for (const thingId of this.schedule.due(now)) {
      if (this.stopped) return;
      await this.guard(thingId, now, async () => {
        const ctx = await this.data.context(thingId);
        const last = await this.forecasting.lastTrained(ctx);
        const every = this.config.get('FORECAST_RETRAIN_EVERY');
        let retrainAt = last ? last.getTime() + every : now;
        // Training publishes a forecast of its own.
        if (retrainAt <= now) {
          await this.forecasting.train(thingId, 'schedule');
          retrainAt = now + every;
        } else await this.publisher.publish(ctx);
        this.schedule.dueAt(thingId, Math.min(now + ctx.spec.stepMs, retrainAt));
      });
    }
  }

  /**
   * The thing's step when it is a target, null when it is not, undefined when it is gone (or may
   * not be read), 'unknown' when it could not be read (the next tick tries again).
   */
  private async stepOf(thingId: string): Promise<number | null | undefined | 'unknown'> {
    try {
      return (await this.data.context(thingId)).spec.stepMs;
    } catch (err) {
      if (!(err instanceof DomainError)) return 'unknown';
      return err.code === 'forecasting:target.invalid' ? null : undefined;
    }
  }

  private async guard(thingId: string, now: number, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      // A full worker queue defers the target by a step (or a tick); anything else waits longer.
      const full = err instanceof DomainError && err.code === 'forecasting:queue.full';
      const retry = full
        ? (this.schedule.stepOf(thingId) ?? this.config.get('FORECAST_TICK_MS'))
        : Math.min(RETRY_AFTER_MS, this.config.get('FORECAST_RETRAIN_EVERY'));
      this.schedule.dueAt(thingId, now + retry);
      this.logger.debug(`forecasting ${thingId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
