import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { DataSource } from 'typeorm';

/** A transaction (or plain connection) repositories run their SQL on; opaque to services. */
export interface Tx {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** Lets a service group repository calls in one transaction without touching TypeORM itself. */
@Injectable()
export class TransactionRunner {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * One READ COMMITTED transaction on a connection of the driver's pool. Not TypeORM's
   * transaction(): that costs two extra round trips (BEGIN, then SET TRANSACTION) and a
   * QueryRunner per statement, which the ingest pays many times a second.
   */
  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      const result = await work(onClient(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A failed ROLLBACK means the connection is unusable: it leaves the pool instead of returning.
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw err;
    } finally {
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

  private get pool(): pg.Pool {
    return (this.dataSource.driver as unknown as { master: pg.Pool }).master;
  }

  private readonly pooled: Tx = {
    query: async <T>(sql: string, params?: unknown[]) => {
      const result = await this.pool.query(sql, params);
      return result.rows as T[];
    },
  };
}

function onClient(client: pg.PoolClient): Tx {
  return {
    query: async <T>(sql: string, params?: unknown[]) => {
      const result = await client.query(sql, params);
      return result.rows as T[];
    },
  };
}
