import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { dayPartition, planMaintenance, type DayPartition } from './partition-plan.js';
import { TelemetryPartitionsRepository } from './telemetry-partitions.repository.js';

/** Hourly is plenty with seven days created ahead; it also picks up what a busy run skipped. */
const INTERVAL_MS = 3_600_000;

export interface MaintenanceOptions {
  now?: Date;
  /** Overrides TELEMETRY_RETENTION_DAYS; 0 keeps everything. */
  retentionDays?: number;
}

export interface MaintenanceResult {
  created: string[];
  dropped: string[];
  /** Readings moved from the default partition into partitions created for their day. */
  moved: number;
}

/**
 * Keeps the daily partitions of `telemetry`: at boot and every hour it creates the ones for
 * yesterday to a week ahead and drops those older than TELEMETRY_RETENTION_DAYS. Every step is
 * its own short transaction under an advisory lock, so replicas never race on DDL and a step
 * that cannot get its locks in time waits for the next run without undoing the others.
 */
@Injectable()
export class TelemetryPartitionsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(TelemetryPartitionsService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    @Inject(TelemetryPartitionsRepository) private readonly repo: TelemetryPartitionsRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(ConfigService) private readonly config: ConfigService,
  ) {}

  /** Awaited, so the partitions exist before the app takes traffic; a failure only logs. */
  async onApplicationBootstrap(): Promise<void> {
    await this.runLogged();
    this.timer = setInterval(() => void this.runLogged(), INTERVAL_MS);
    this.timer.unref();
  }

  /** Lets a run in progress finish before the pool closes. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async maintain(options: MaintenanceOptions = {}): Promise<MaintenanceResult> {
    const now = (options.now ?? new Date()).getTime();
    const retention = options.retentionDays ?? this.config.get('TELEMETRY_RETENTION_DAYS');
    const plan = planMaintenance(now, await this.repo.partitions(this.tx.db), retention);
    const result: MaintenanceResult = { created: [], dropped: [], moved: 0 };
    for (const day of plan.create) {
      const moved = await this.createIfMissing(day);
      if (moved !== undefined) {
        result.created.push(day.name);
        result.moved += moved;
      }
    }
    for (const day of plan.drop) {
      if (await this.dropIfPresent(day)) result.dropped.push(day.name);
    }
    return result;
  }

  /** The partition of the UTC day containing `at`; harmless when it exists. True if it was created. */
  async ensureDay(at: Date): Promise<boolean> {
    return (await this.createIfMissing(dayPartition(at.getTime()))) !== undefined;
  }

  private createIfMissing(day: DayPartition): Promise<number | undefined> {
    return this.tx.run(async (tx) => {
      await this.repo.lockForDdl(tx);
      if ((await this.repo.partitions(tx)).includes(day.name)) return undefined;
      return this.repo.createDayPartition(tx, day);
    });
  }

  private dropIfPresent(day: DayPartition): Promise<boolean> {
    return this.tx.run(async (tx) => {
      await this.repo.lockForDdl(tx);
      if (!(await this.repo.partitions(tx)).includes(day.name)) return false;
      await this.repo.dropDayPartition(tx, day);
      return true;
    });
  }

  private runLogged(): Promise<unknown> {
    // One run at a time per process: a slow run is not overtaken by the next tick.
    this.running ??= this.maintain()
      .then((r) => {
        if (r.created.length || r.dropped.length) {
          this.logger.log(
            `partitions created: ${r.created.join(', ') || 'none'}; dropped: ${r.dropped.join(', ') || 'none'}; ` +
              `readings moved out of the default partition: ${r.moved}`,
          );
        }
      })
      .catch((err: unknown) =>
        this.logger.warn(`partition maintenance failed, retrying in an hour: ${(err as Error).message}`),
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
