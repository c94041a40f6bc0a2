import {
  Catch,
  Controller,
  Get,
  Inject,
  ServiceUnavailableException,
  UseFilters,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { Response } from 'express';
import { ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { IngestStats } from '../ingest/ingest-stats.js';
import { JournalFeed } from '../journal/journal-feed.js';

const DB_TIMEOUT_MS = 1500;
/** Right after start the MQTT client may still be connecting: a probe waits this long for it. */
const BROKER_GRACE_MS = 1000;

/** A failed check answers 503 with terminus' report (which check is down), not Ditto's error JSON. */
@Catch(ServiceUnavailableException)
class HealthReportFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): void {
    host.switchToHttp().getResponse<Response>().status(503).json(exception.getResponse());
  }
}

@ApiTags('Health')
@UseFilters(HealthReportFilter)
@Controller('health')
export class HealthController {
  /** Migrations only run at boot: once none is pending, none will be for this process. */
  private migrated = false;

  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(TypeOrmHealthIndicator) private readonly db: TypeOrmHealthIndicator,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(IngestStats) private readonly ingest: IngestStats,
    @Inject(JournalFeed) private readonly feed: JournalFeed,
  ) {}

  /** Liveness: the process answers HTTP. Checks no dependency, so a database outage restarts nothing. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /**
   * Readiness: 200 when the database answers, the migrations are applied, the MQTT broker is
   * connected and the journal feed listens; 503 otherwise (load balancers take the replica out).
   */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: DB_TIMEOUT_MS }),
      () => this.migrations(),
      () => this.broker(),
      () => this.journalFeed(),
    ]);
  }

  /** The same as /health/ready (compose, the Dockerfile and older probes ask here). */
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.ready();
  }

  private async migrations(): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check('migrations');
    if (this.migrated) return indicator.up();
    try {
      const pending = await withTimeout(this.dataSource.showMigrations(), DB_TIMEOUT_MS);
      this.migrated = !pending;
      return pending ? indicator.down({ message: 'migrations pending' }) : indicator.up();
    } catch (err) {
      return indicator.down({ message: err instanceof Error ? err.message : String(err) });
    }
  }

  private async broker(): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check('broker');
    const deadline = Date.now() + BROKER_GRACE_MS;
    while (!this.ingest.view().brokerConnected && Date.now() < deadline) {
      await new Promise((ok) => setTimeout(ok, 50));
    }
    // No broker URL here: /health is open to anyone.
    return this.ingest.view().brokerConnected
      ? indicator.up()
      : indicator.down({ message: 'not connected to the MQTT broker' });
  }

  private journalFeed(): HealthIndicatorResult {
    const indicator = this.indicators.check('journalFeed');
    return this.feed.listening
      ? indicator.up({ dispatchedSeq: this.feed.head })
      : indicator.down({ message: 'the journal LISTEN connection is down (reconnecting)' });
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
