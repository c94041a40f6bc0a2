import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import pg from 'pg';
import { DatabaseLocation } from '../persistence/database-location.js';
import { POLICY_CHANNEL } from './policies.repository.js';
import { PolicyCache } from './policy-cache.js';
import { CompiledShapes } from './policy-shapes.js';

const CACHE_ENTRIES = 10_000;
/** Distinct policy contents whose compilations are shared (see CompiledShapes). */
const SHARED_SHAPES = 1_000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;
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
  private listener?: pg.Client;
  private stopped = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer?: NodeJS.Timeout;

  constructor(@Inject(DatabaseLocation) private readonly location: DatabaseLocation) {}

  /** Whether cached compilations may be trusted (the LISTEN connection is up). */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.connect().catch((err: unknown) => {
      this.logger.warn(`policy LISTEN failed: ${(err as Error).message}; retrying`);
      this.scheduleReconnect();
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.location.url,
      application_name: POLICY_LISTENER_NAME,
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => {
      if (msg.channel === POLICY_CHANNEL && msg.payload) this.cache.changed(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${POLICY_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end();
      return;
    }
    this.cache.clear();
    this.listener = client;
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.stopped || this.listener !== client) return;
    this.listener = undefined;
    this.cache.clear();
    this.logger.warn(`policy LISTEN connection lost${err ? `: ${err.message}` : ''}; reconnecting`);
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.connect().then(
        () => (this.retryMs = RETRY_MIN_MS),
        (err: unknown) => {
          if (this.stopped) return;
          this.logger.warn(`policy LISTEN reconnect failed: ${(err as Error).message}`);
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.retryTimer.unref();
  }
}
