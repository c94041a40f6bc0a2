import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { TwinsService } from '../twins/twins.service.js';
import { presenceLeaves, twinCommands } from './batch-plan.js';
import { IngestStats } from './ingest-stats.js';
import { IngestRepository } from './ingest.repository.js';
import { PresenceMemory } from './presence.js';

const CLAIM_LIMIT = 1000;

/**
 * Marks offline the devices that sent nothing for DEVICE_INACTIVITY_TIMEOUT seconds. It works
 * from the presence table, which every replica writes and which survives restarts: a replica
 * sees only its share of a device's messages, and a restarted one remembers nothing. Each
 * device is claimed by one UPDATE, so two replicas never both mark it.
 */
@Injectable()
export class PresenceSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Presence');
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    @Inject(TwinsService) private readonly twins: TwinsService,
    @Inject(IngestRepository) private readonly repo: IngestRepository,
    @Inject(PresenceMemory) private readonly memory: PresenceMemory,
    @Inject(IngestStats) private readonly stats: IngestStats,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.timeoutMs = config.get('DEVICE_INACTIVITY_TIMEOUT') * 1000;
  }

  onApplicationBootstrap(): void {
    if (this.timeoutMs === 0) return;
    const every = Math.max(200, Math.min(this.timeoutMs / 2, 5_000));
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .then(() => undefined)
        .catch((err: unknown) => this.logger.warn(`inactivity sweep failed: ${(err as Error).message}`))
        .finally(() => (this.sweeping = undefined));
    }, every);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Marks every overdue device offline; returns how many. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const now = Date.now();
      const claimed = await this.twins.transaction(async (scope) => {
        const ids = await this.repo.claimInactive(scope.tx, now - this.timeoutMs, now, CLAIM_LIMIT);
        // Merged under /features, never creating a thing that was deleted meanwhile.
        const leaves = ids.flatMap((id) => presenceLeaves(id, false, now));
        await scope.applyEach(twinCommands(leaves, [], false));
        return ids;
      });
      this.memory.markOffline(claimed, now);
      this.stats.devicesMarkedOffline += claimed.length;
      total += claimed.length;
      if (claimed.length < CLAIM_LIMIT) return total;
    }
  }
}
