import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { PeriodicTask } from '../common/periodic-task.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { cacheAdvice } from './search-cache.js';
import { TwinsRepository } from './twins.repository.js';

/** The data grows slowly: an hourly look is soon enough and costs three catalog lookups. */
const CHECK_EVERY_MS = 60 * 60 * 1000;

/**
 * Warns, at start and then once when it happens, that the things and policies have outgrown
 * PostgreSQL's cache, the commonest reason for searches slowing down as a fleet grows; says so
 * again when the cache holds them once more. Advice only: nothing is refused.
 */
@Injectable()
export class SearchCacheCheck implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('SearchCache');
  private readonly task = new PeriodicTask('checking the database cache', () => this.check(), this.logger);
  private warned = false;

  constructor(
    @Inject(TwinsRepository) private readonly repo: TwinsRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(CHECK_EVERY_MS);
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** The advice now given, if any. */
  async check(): Promise<string | undefined> {
    const advice = cacheAdvice(await this.repo.cacheFit(this.tx.db));
    if (advice && !this.warned) this.logger.warn(advice);
    if (!advice && this.warned) this.logger.log("PostgreSQL's cache holds the things and policies again");
    this.warned = advice !== undefined;
    return advice;
  }
}
