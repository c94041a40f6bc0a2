import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';

/** A transaction (or plain connection) repositories run their SQL on; opaque to services. */
export interface Tx {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

function wrap(manager: EntityManager): Tx {
  return { query: (sql, params) => manager.query(sql, params) };
}

/** Lets a service group repository calls in one transaction without touching TypeORM itself. */
@Injectable()
export class TransactionRunner {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.dataSource.transaction('READ COMMITTED', (manager) => work(wrap(manager)));
  }

  /**
   * For reads that need no transaction. Goes straight to the driver's pool: TypeORM's
   * manager.query sets up a QueryRunner per call, which is measurable on the hot read path.
   */
  get db(): Tx {
    return this.pooled;
  }

  private readonly pooled: Tx = {
    query: async <T>(sql: string, params?: unknown[]) => {
      const pool = (this.dataSource.driver as unknown as { master: pg.Pool }).master;
      const result = await pool.query(sql, params);
      return result.rows as T[];
    },
  };
}
