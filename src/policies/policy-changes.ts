import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { DatabaseLocation } from '../persistence/database-location.js';
import { PgListener } from '../persistence/pg-listener.js';
import { POLICY_CHANNEL } from './policies.repository.js';
import { PolicyCache } from './policy-cache.js';
import { CompiledShapes } from './policy-shapes.js';

const CACHE_ENTRIES = 10_000;
/** Distinct policy contents whose compilations are shared (see CompiledShapes). */
const SHARED_SHAPES = 1_000;
/** Shows in pg_stat_activity, so operators (and tests) can find the listening connection. */
export const POLICY_LISTENER_NAME = 'twin-policy-changes';

/**
 * Keeps this replica's compiled policies in step with every replica's writes: each policy write
 * NOTIFYs `twin_policy_changed` at commit (see PoliciesRepository.notifyChanged), and this
 * process drops what it compiled from that policy. While the LISTEN connection is down the cache
 * is not used at all (changes could be missed), and it starts empty again once reconnected.
 */
@Injectable()
export class PolicyChanges implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(PolicyChanges.name);
  readonly cache = new PolicyCache(CACHE_ENTRIES);
  readonly shapes = new CompiledShapes(SHARED_SHAPES);
  private readonly listener: PgListener;

  constructor(@Inject(DatabaseLocation) location: DatabaseLocation) {
    // While the connection is down changes could be missed: the cache starts empty again.
    this.listener = new PgListener(
      {
        url: location.url,
        channel: POLICY_CHANNEL,
        applicationName: POLICY_LISTENER_NAME,
        label: 'policy',
        logger: this.logger,
      },
      {
        notice: (policyId) => {
          if (policyId) this.cache.changed(policyId);
        },
        connected: () => this.cache.clear(),
        lost: () => this.cache.clear(),
      },
    );
  }

  /** Whether cached compilations may be trusted (the LISTEN connection is up). */
  get listening(): boolean {
    return this.listener.listening;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.listener.startOrRetry();
  }

  async onModuleDestroy(): Promise<void> {
    await this.listener.stop();
  }
}
