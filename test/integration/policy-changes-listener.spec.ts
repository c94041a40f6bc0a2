import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { startInstance, until, type Instance } from '../e2e/realtime.support.js';
import { createTestDatabase } from '../support/database.js';
import { PoliciesService } from '../../src/policies/policies.service.js';
import { POLICY_LISTENER_NAME, PolicyChanges } from '../../src/policies/policy-changes.js';
import { TwinsService } from '../../src/twins/twins.service.js';
import { authContext } from '../../src/auth/auth-context.js';

/**
 * The policy cache's LISTEN connection against real PostgreSQL: while it is down, a policy change
 * made by another replica could be missed, so the cache must not be trusted and must start empty
 * once it listens again.
 */
let database: { url: string; drop: () => Promise<void> };
let a: Instance;
let admin: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  a = await startInstance(database.url);
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
});
afterAll(async () => {
  await admin.end();
  await a.close();
  await database.drop();
});

describe('PolicyChanges', () => {
  it('on losing its LISTEN connection empties the cache, distrusts it, and listens again', async () => {
    const changes = a.app.get(PolicyChanges);
    const auth = authContext(['nginx:alice']);
    await a.app
      .get(TwinsService)
      .apply({ type: 'modify', thingId: 'pcl:t', path: [], value: {}, origin: 'rest', auth });
    // Compiled and cached as a read checks it (once the creation's own notice has come in).
    const policies = a.app.get(PoliciesService);
    await until('the policy compiled and cached', async () => {
      await policies.enforcerFor('pcl:t', 'pcl');
      return changes.cache.size > 0;
    });
    expect(changes.listening).toBe(true);
    const pids = async () =>
      (
        await admin.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
          [POLICY_LISTENER_NAME],
        )
      ).rows.map((r) => r.pid);
    const before = await pids();
    expect(before).toHaveLength(1);
    await admin.query('SELECT pg_terminate_backend($1)', [before[0]]);
    await until('the cache emptied and distrusted', () => !changes.listening && changes.cache.size === 0);
    await until('listening again on a new connection', async () => {
      const now = await pids();
      return changes.listening && now.length === 1 && now[0] !== before[0];
    });
  });
});
