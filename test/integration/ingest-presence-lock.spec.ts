import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { IngestRepository } from '../../src/ingest/ingest.repository.js';
import type { Tx } from '../../src/persistence/transaction.js';
import { createTestDatabase, migrateTestDatabase } from '../support/database.js';

/**
 * Two ingest batches carrying a device seen for the first time (the ingest pipelines batches, and
 * replicas share the database): the second must see the presence the first is writing, or both
 * decide the device came online and the twin journals it twice.
 */
let url: string;
let drop: () => Promise<void>;
const clients: pg.Client[] = [];
const repo = new IngestRepository();

beforeAll(async () => {
  ({ url, drop } = await createTestDatabase());
  await migrateTestDatabase(url);
  for (let i = 0; i < 2; i++) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    clients.push(c);
  }
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end()));
  await drop?.();
});

const tx = (c: pg.Client): Tx => ({
  query: async <T>(sql: string, params?: unknown[]) => (await c.query(sql, params)).rows as T[],
});

describe('presence of a device seen for the first time', () => {
  it('a second batch waits for the first one writing it, then sees its row', async () => {
    const [first, second] = clients;
    const [a, b] = [tx(first), tx(second)];
    const now = Date.now();
    await first.query('BEGIN');
    expect(await repo.lockPresence(a, ['lock:new', 'lock:other'])).toEqual([]);
    await repo.writePresence(a, [{ thingId: 'lock:new', lastSeen: now, online: true, stateAt: now }]);

    await second.query('BEGIN');
    let seen: Awaited<ReturnType<IngestRepository['lockPresence']>> | undefined;
    const waiting = repo.lockPresence(b, ['lock:new']).then((rows) => (seen = rows));
    await new Promise((ok) => setTimeout(ok, 200));
    expect(seen).toBeUndefined();

    await first.query('COMMIT');
    await waiting;
    expect(seen).toEqual([{ thingId: 'lock:new', lastSeen: now, online: true, stateAt: now }]);
    await second.query('COMMIT');
  });
});
