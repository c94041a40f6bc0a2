import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import {
  cacheFlags,
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from '../../src/persistence/embedded-postgres.js';
import { SearchCacheCheck } from '../../src/twins/search-cache-check.js';
import { startInstance, type Instance } from '../e2e/realtime.support.js';

/**
 * A platform whose things have outgrown PostgreSQL's cache says so (searches then read pages
 * through the kernel, at twice the CPU), and says nothing while the cache holds them. The
 * database is a cluster of the test's own with a 16 MB cache, so a few tens of MB outgrow it.
 */
let dir: string;
let database: EmbeddedPostgresHandle;
let app: Instance;
let db: pg.Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twin-searchcache-'));
  // As root, embedded-postgres runs the server as a 'postgres' user, which must reach the directory.
  chmodSync(dir, 0o777);
  database = await startEmbeddedPostgres({ dataDir: dir, port: 0, postgresFlags: cacheFlags(16) });
  app = await startInstance(database.url);
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
}, 120_000);

afterAll(async () => {
  await db?.end();
  await app?.close();
  await database?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the database cache check (README, 'Sizing PostgreSQL')", () => {
  it('is silent while the cache holds the data, advises once it does not, and is silent again after', async () => {
    const check = app.app.get(SearchCacheCheck);
    expect(await check.check()).toBeUndefined();

    // 40,000 things of ~1 kB of incompressible attributes: ~50 MB with their indexes.
    await db.query(`
      INSERT INTO things (thing_id, namespace, policy_id, doc, revision, created_at, modified_at)
      SELECT 'org.cache:t-' || i, 'org.cache', 'org.cache:p',
             jsonb_build_object('thingId', 'org.cache:t-' || i, 'policyId', 'org.cache:p',
               'attributes', jsonb_build_object('note',
                 (SELECT string_agg(md5(random()::text || i || k), '') FROM generate_series(1, 30) k))),
             1, now(), now()
      FROM generate_series(1, 40000) i`);
    const advice = await check.check();
    expect(advice).toContain('shared_buffers 16 MB');
    expect(advice).toMatch(/with indexes \(\d+ MB\)/);
    expect(advice).toContain('Sizing PostgreSQL');

    await db.query('TRUNCATE things CASCADE');
    expect(await check.check()).toBeUndefined();
  }, 60_000);
});
