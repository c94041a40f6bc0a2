import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/persistence/data-source.options.js';
import { createTestDatabase } from '../support/database.js';

/**
 * The migration to series ids, on a database that already holds history in the old layout
 * (one partition of a day and the default one): every reading survives, in its partition, with
 * its key; and reverting brings the old layout back with the same readings.
 */
let database: { url: string; drop: () => Promise<void> };
let db: pg.Client;
const OPTIONS = () => dataSourceOptions(database.url, 2);

beforeAll(async () => {
  database = await createTestDatabase();
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await database.drop();
});

/** Runs the migrations before `upTo`. */
async function migrate(upTo: string): Promise<void> {
  const options = OPTIONS();
  const all = options.migrations as { name: string }[];
  const end = all.findIndex((m) => m.name === upTo);
  if (end < 0) throw new Error(`no migration ${upTo}`);
  const ds = new DataSource({ ...options, migrations: all.slice(0, end) as never });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await ds.destroy();
  }
}

async function revertLast(): Promise<void> {
  const ds = new DataSource(OPTIONS());
  await ds.initialize();
  try {
    await ds.undoLastMigration({ transaction: 'each' });
  } finally {
    await ds.destroy();
  }
}

const READINGS = `SELECT thing_id, feature_id, path, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts,
                         seq, value FROM %s ORDER BY thing_id, feature_id, path, ts, seq`;

async function partitions(): Promise<string[]> {
  const { rows } = await db.query<{ part: string; n: number }>(
    `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM telemetry GROUP BY 1 ORDER BY 1`,
  );
  return rows.map((r) => `${r.part}:${r.n}`);
}

describe('migration TelemetrySeries', () => {
  it('moves stored readings to series ids and back, losing none', async () => {
    await migrate('TelemetrySeries1764180000000');
    await db.query(
      `CREATE TABLE telemetry_p20240301 PARTITION OF telemetry FOR VALUES FROM ('2024-03-01T00:00:00Z') TO ('2024-03-02T00:00:00Z')`,
    );
    await db.query(`
      INSERT INTO telemetry (thing_id, feature_id, path, ts, seq, value) VALUES
        ('org.example:m-1', 'energy', 'power', '2024-03-01T10:00:00.123456Z', 1, '12.5'),
        ('org.example:m-1', 'energy', 'power', '2024-03-01T10:00:01Z', NULL, '13'),
        ('org.example:m-1', 'energy', 'status/level', '2024-03-01T10:00:00Z', 1, '{"a":[1,null]}'),
        ('org.example:m-2', 'energy', 'power', '2024-03-01T10:00:00Z', 7, 'null'),
        ('org.example:m-2', 'climate', 'temperature', '1999-12-31T23:59:59Z', NULL, '"cold"')`);
    const before = (await db.query(READINGS.replace('%s', 'telemetry'))).rows;
    const partsBefore = await partitions();

    // Through TelemetrySeries and no further, so that reverting the last one reverts it.
    await migrate('AuthGeneratedUser1764190000000');
    expect((await db.query(READINGS.replace('%s', 'telemetry_readings'))).rows).toEqual(before);
    expect(await partitions()).toEqual(partsBefore);
    const { rows: series } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM telemetry_series');
    expect(series[0].n).toBe(4);
    // The dedup key holds on the new layout: the same reading again is a conflict.
    const { rows: again } = await db.query(
      `INSERT INTO telemetry (series_id, ts, seq, value)
       SELECT id, '2024-03-01T10:00:01Z', NULL, '99' FROM telemetry_series
       WHERE thing_id = 'org.example:m-1' AND feature_id = 'energy' AND path = 'power'
       ON CONFLICT (series_id, ts, (COALESCE(seq, -1))) DO NOTHING RETURNING 1`,
    );
    expect(again).toHaveLength(0);

    await revertLast();
    expect((await db.query(READINGS.replace('%s', 'telemetry'))).rows).toEqual(before);
    expect(await partitions()).toEqual(partsBefore);
    const { rows: gone } = await db.query(`SELECT to_regclass('telemetry_series') AS t`);
    expect(gone[0]).toEqual({ t: null });
  });
});
