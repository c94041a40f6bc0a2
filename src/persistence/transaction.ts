import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { Errors } from '../common/errors.js';
import { ConfigService } from '../config/config.service.js';
import { DatabaseLocation } from './database-location.js';
import { PreparedStatements, type QueryOptions } from './prepared-statements.js';
import { isStalePlanError } from './retry.js';

export type { QueryOptions } from './prepared-statements.js';

/** A transaction (or plain connection) repositories run their SQL on; opaque to services. */
export interface Tx {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]>;
}

/** Connections of a pool: open, idle among them, callers waiting for one, and the limit. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/** Lets a service group repository calls in one transaction without touching TypeORM itself. */
@Injectable()
export class TransactionRunner implements OnApplicationShutdown {
  private queryPool?: pg.Pool;
  private readonly logger = new Logger('Database');
  /**
   * The app's own pool (DATABASE_POOL_SIZE). TypeORM only runs the migrations at boot; going
   * through its driver at runtime would need its private pool and add nothing.
   */
  private readonly pool: pg.Pool;
  private readonly statements: PreparedStatements;

  constructor(
    // Injected so the migrations have run before the first query here.
    @Inject(DataSource) _migrated: DataSource,
    @Inject(DatabaseLocation) private readonly location: DatabaseLocation,
    @Inject(ConfigService) private readonly config: ConfigService,
  ) {
    this.pool = this.createPool(config.get('DATABASE_POOL_SIZE'), 'twin-platform');
    this.statements = new PreparedStatements(config.get('DATABASE_PREPARED_STATEMENTS'));
  }

  /**
   * One READ COMMITTED transaction on a connection of the driver's pool. Not TypeORM's
   * transaction(): that costs two extra round trips (BEGIN, then SET TRANSACTION) and a
   * QueryRunner per statement, which the ingest pays many times a second.
   */
  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // The server may drop the connection between two statements (a restart): node-postgres then
    // emits 'error' on the client, which must not go unheard (it would end the process); the next
    // statement fails, the transaction with it, and the connection leaves the pool.
    const onError = (err: Error): void => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      const result = await work(onClient(client, this.statements));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A failed ROLLBACK means the connection is unusable: it leaves the pool instead of returning.
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /**
   * For reads that need no transaction. Goes straight to the driver's pool: TypeORM's
   * manager.query sets up a QueryRunner per call, which is measurable on the hot read path.
   */
  get db(): Tx {
    return this.pooled;
  }

  /**
   * For client-shaped reads (search, count, history): a pool of their own (QUERY_POOL_SIZE) whose
   * statements PostgreSQL cancels after QUERY_TIMEOUT_MS, answered as Ditto's 408
   * `thing-search:query.time.exceeded`. However many such queries clients send, the main pool
   * stays free for reads by id and for writes.
   */
  get bounded(): Tx {
    return this.boundedTx;
  }

  private createQueryPool(): pg.Pool {
    return this.createPool(this.config.get('QUERY_POOL_SIZE'), 'twin-platform-query', {
      statement_timeout: this.config.get('QUERY_TIMEOUT_MS'),
      // node-postgres applies this to waiting for a busy pool's connection too: a flood of
      // searches queues for a bounded time instead of forever.
      connectionTimeoutMillis: this.config.get('QUERY_QUEUE_TIMEOUT_MS'),
    });
  }

  private createPool(max: number, name: string, extra: pg.PoolConfig = {}): pg.Pool {
    const pool = new pg.Pool({ connectionString: this.location.url, max, application_name: name, ...extra });
    // An idle connection the server dropped (a restart) is replaced on the next query; without a
    // listener its error event would end the process.
    pool.on('error', (err) => this.logger.warn(`${name}: connection lost: ${err.message}`));
    openConnections.set(pool, 0);
    pool.on('connect', () => openConnections.set(pool, (openConnections.get(pool) ?? 0) + 1));
    pool.on('remove', () => openConnections.set(pool, (openConnections.get(pool) ?? 1) - 1));
    return pool;
  }

  /** Connection counts of both pools, for the metrics; the query pool is made on first use. */
  poolStats(): Record<'main' | 'query', PoolStats> {
    const of = (pool: pg.Pool | undefined, max: number): PoolStats => ({
      total: pool?.totalCount ?? 0,
      idle: pool?.idleCount ?? 0,
      waiting: pool?.waitingCount ?? 0,
      max,
    });
    return {
      main: of(this.pool, this.config.get('DATABASE_POOL_SIZE')),
      query: of(this.queryPool, this.config.get('QUERY_POOL_SIZE')),
    };
  }

  /** After every feature drained (they may still commit in beforeApplicationShutdown). */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([endFully(this.pool), this.queryPool && endFully(this.queryPool)]);
  }

  private readonly boundedTx: Tx = {
    query: async <T>(sql: string, params?: unknown[], options?: QueryOptions) => {
      this.queryPool ??= this.createQueryPool();
      try {
        const result = await this.prepared(this.queryPool, sql, params, options);
        return result.rows as T[];
      } catch (err) {
        // query_canceled: the statement timeout fired.
        if ((err as { code?: string }).code === '57014') throw Errors.queryTimeExceeded();
        // node-postgres's own words when the wait for a connection ran out (see query-limits e2e),
        // or when opening a new one took longer than that same bound (a loaded server): either
        // way the query could not start within QUERY_QUEUE_TIMEOUT_MS. A server that is down
        // refuses the connection at once and stays a 503.
        if (err instanceof Error && CONNECT_TIMEOUTS.has(err.message)) throw Errors.queryTimeExceeded();
        throw err;
      }
    },
  };

  /** A statement on a pool's connection, run once more under a new name if its plan went stale. */
  private async prepared(
    pool: pg.Pool,
    sql: string,
    params: unknown[] | undefined,
    options: QueryOptions | undefined,
  ): Promise<pg.QueryResult> {
    const config = this.statements.config(sql, params, options);
    try {
      return await pool.query(config);
    } catch (err) {
      if (!isStalePlanError(err)) throw err;
      this.statements.renew(config);
      return pool.query(this.statements.config(sql, params, options));
    }
  }

  private readonly pooled: Tx = {
    query: async <T>(sql: string, params?: unknown[], options?: QueryOptions) => {
      const result = await this.prepared(this.pool, sql, params, options);
      return result.rows as T[];
    },
  };
}

/** Connections each pool has open, counted from its connect and remove events. */
const openConnections = new WeakMap<pg.Pool, number>();

/**
 * pg-pool's end() resolves once its idle clients are asked to close, not once they have: an
 * embedded server stopped right after would still find them and terminate them, and the app
 * would log lost connections on every clean stop. Waits for the last 'remove' as well, for a
 * bounded time: a connection whose socket already died may never report its end.
 */
async function endFully(pool: pg.Pool): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<void>((resolve) => {
    const check = (): void => {
      if ((openConnections.get(pool) ?? 0) > 0) return;
      pool.off('remove', check);
      resolve();
    };
    pool.on('remove', check);
    timer = setTimeout(resolve, CLOSE_WAIT_MS);
    check();
  });
  await pool.end();
  await closed;
  clearTimeout(timer);
}

const CLOSE_WAIT_MS = 2_000;

const CONNECT_TIMEOUTS = new Set([
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
]);

/** A stale plan fails the transaction: renewed names let its retry (a transient error) run. */
function onClient(client: pg.PoolClient, statements: PreparedStatements): Tx {
  return {
    query: async <T>(sql: string, params?: unknown[], options?: QueryOptions) => {
      const config = statements.config(sql, params, options);
      try {
        const result = await client.query(config);
        return result.rows as T[];
      } catch (err) {
        if (isStalePlanError(err)) statements.renew(config);
        throw err;
      }
    },
  };
}
