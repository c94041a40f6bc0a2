import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence/transaction.js';
import { DEFAULT_PARTITION, parsePartitionName, type DayPartition } from './partition-plan.js';

/** Any constant works as long as every replica uses the same one; it is "tele". */
const PARTITION_DDL_LOCK = 0x74656c65;
/**
 * DDL on a partitioned table waits for, and then blocks, the transactions using it. A bounded
 * wait means a busy moment delays maintenance to its next run instead of stalling the ingest.
 */
const LOCK_TIMEOUT = '5s';

/** Partition DDL. Statements like these take no parameters, so names and bounds are checked first. */
@Injectable()
export class TelemetryPartitionsRepository {
  /**
   * Serialises partition DDL across replicas for the rest of the transaction. Callers re-check
   * what exists after this, so a replica that waited finds the work done and does nothing.
   */
  async lockForDdl(tx: Tx): Promise<void> {
    await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    await tx.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_DDL_LOCK]);
  }

  /** Names of the tables attached to `telemetry`, the default partition included. */
  async partitions(db: Tx): Promise<string[]> {
    const rows = await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'telemetry'::regclass ORDER BY c.relname`,
    );
    return rows.map((r) => r.name);
  }

  /**
   * Creates the day's partition. Readings of that day that arrived before it existed sit in the
   * default partition, and PostgreSQL refuses a new partition while the default holds rows of
   * its range; so the table is built standalone, those rows are moved into it, and it is
   * attached, all in the caller's transaction. Locking the default partition first keeps new
   * rows for the range from slipping in between. Returns how many rows were moved.
   */
  async createDayPartition(tx: Tx, day: DayPartition): Promise<number> {
    const name = checked(day);
    await tx.query(`LOCK TABLE ${DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE`);
    await tx.query(`CREATE TABLE ${name} (LIKE telemetry INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
    const moved = await tx.query<{ n: string }>(
      `WITH moved AS (
         DELETE FROM ${DEFAULT_PARTITION} WHERE ts >= $1::timestamptz AND ts < $2::timestamptz RETURNING *
       ), copied AS (INSERT INTO ${name} SELECT * FROM moved RETURNING 1)
       SELECT count(*) AS n FROM copied`,
      [day.from, day.to],
    );
    // Attaching builds the unique index on the new table and checks both tables' contents.
    await tx.query(
      `ALTER TABLE telemetry ATTACH PARTITION ${name} FOR VALUES FROM ('${day.from}') TO ('${day.to}')`,
    );
    return Number(moved[0]?.n ?? 0);
  }

  /** Drops a day partition with its rows; refuses anything that is not a day partition. */
  async dropDayPartition(tx: Tx, day: DayPartition): Promise<void> {
    await tx.query(`DROP TABLE ${checked(day)}`);
  }
}

/** The name and bounds are exactly what partition-plan derives from a date: nothing else reaches the DDL. */
function checked(day: DayPartition): string {
  const expected = parsePartitionName(day.name);
  if (!expected || expected.from !== day.from || expected.to !== day.to) {
    throw new Error(`not a telemetry day partition: ${JSON.stringify(day)}`);
  }
  return day.name;
}
