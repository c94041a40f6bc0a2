import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import { PeriodicTask } from '../common/periodic-task.js';
import { ConfigService } from '../config/config.service.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { TwinsRepository } from './twins.repository.js';

/** PostgreSQL's codes for "not the index's owner" and "no such index". */
const CANNOT = new Set(['42501', '42P01']);

/**
 * Keeps the search index's pending list short (SEARCH_INDEX_UPKEEP_MS). Every write of a thing
 * adds its document's entries to the GIN index's pending list; when the list passes
 * gin_pending_list_limit (4 MB by default), the write that finds it so merges the whole list into
 * the index inside its own statement. Under the realtime bench's 5,000 changes/s that was one
 * UPDATE of ~100 ms every ten seconds, holding up that batch's commit and every change behind it
 * (the whole p99 of change→client). Merged here every second, the list never gets there: the
 * merge costs the database the same, but off the writes' path (a write finding a merge under way
 * leaves it alone), and searches have a short list to scan. Every replica runs it; a merge finding
 * another in progress waits for it and then has little to do.
 */
@Injectable()
export class SearchIndexUpkeep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('SearchIndexUpkeep');
  private readonly task = new PeriodicTask('merging the search index', () => this.merge(), this.logger);

  constructor(
    @Inject(TwinsRepository) private readonly repo: TwinsRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(ConfigService) private readonly config: ConfigService,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.get('SEARCH_INDEX_UPKEEP_MS');
    if (every > 0) this.task.start(every);
  }

  /** Before any pool closes (TransactionRunner closes them in onApplicationShutdown). */
  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** Pages moved from the pending list into the index; 0 when the upkeep had to give up. */
  async merge(): Promise<number> {
    try {
      return await this.repo.mergeSearchIndexPending(this.tx.db);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === undefined || !CANNOT.has(code)) throw err;
      // Only the index's owner may merge (as for VACUUM): where migrations run as another role,
      // the writes keep merging as PostgreSQL does by default.
      this.logger.warn(
        `the search index cannot be merged in the background (${(err as Error).message}); writes merge it`,
      );
      void this.task.stop();
      return 0;
    }
  }
}
