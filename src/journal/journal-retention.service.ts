import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { PeriodicTask } from '../common/periodic-task.js';
import { ConfigService } from '../config/config.service.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { JournalRetentionRepository } from './journal-retention.repository.js';

/** Retention is measured in days: checking a few times an hour is plenty. */
const PRUNE_EVERY_MS = 15 * 60_000;
/** Rows per delete statement: short transactions, so the ingest never waits long on them. */
const BATCH = 5000;

/**
 * Deletes journal rows older than JOURNAL_RETENTION_DAYS (0, the default, keeps everything), with
 * them the thing history and the `from-event-id` replay that reach back that far. Never rows the
 * Ditto sync or the desired-state publisher have not consumed yet, and never an entity's newest
 * row. Rows go in seq order, which is time order up to clock skew between replicas: a batch that
 * meets a row younger than the cutoff ends the run. Every replica prunes; deletes are idempotent.
 */
@Injectable()
export class JournalRetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('JournalRetention');
  private readonly pruner = new PeriodicTask('pruning the journal', () => this.prune(), this.logger);

  constructor(
    @Inject(JournalRetentionRepository) private readonly repo: JournalRetentionRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(ConfigService) private readonly config: ConfigService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.get('JOURNAL_RETENTION_DAYS') === 0) return;
    this.pruner.start(PRUNE_EVERY_MS);
  }

  onApplicationShutdown(): Promise<void> {
    return this.pruner.stop();
  }

  /** Deletes what the retention no longer keeps; returns how many journal rows went. */
  async prune(now = Date.now(), days = this.config.get('JOURNAL_RETENTION_DAYS')): Promise<number> {
    if (days <= 0) return 0;
    const cutoff = new Date(now - days * 86_400_000);
    const bound = await this.repo.bound(this.tx.db, this.config.get('DITTO_URL') !== undefined);
    let after = '0';
    let total = 0;
    for (;;) {
      const batch = await this.repo.deleteBatch(this.tx.db, after, bound, cutoff, BATCH);
      total += batch.deleted;
      if (batch.last === null || !batch.allOld) break;
      after = batch.last;
    }
    const snapshots = await this.repo.pruneSnapshots(this.tx.db);
    if (total > 0) this.logger.log(`deleted ${total} journal rows and ${snapshots} snapshots past retention`);
    return total;
  }
}
