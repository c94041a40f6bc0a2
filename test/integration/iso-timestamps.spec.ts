import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { ISO_TIMESTAMP_TYPES } from '../../src/persistence/iso-timestamps.js';
import { createTestDatabase } from '../support/database.js';

/**
 * Thing reads take `_created` and `_modified` from PostgreSQL's text as ISO strings without
 * building Dates. What the server sends depends on the session's TimeZone (a DBA's default, a
 * role's setting, PGTZ): whatever it is, the strings must be the ones the driver's Dates gave.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let client: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await database?.drop();
});

const INSTANTS = [
  '2026-12-07T13:45:09Z',
  '2026-12-07T13:45:09.5Z',
  '2026-12-07T13:45:09.123Z',
  '2026-12-07T13:45:09.123456Z',
  '2026-03-29T01:30:00.000001Z',
  '1970-01-01T00:00:00Z',
  '2000-02-29T23:59:59.999999Z',
  '0999-06-15T12:00:00Z',
];

describe('timestamptz read as ISO strings', () => {
  for (const zone of ['UTC', 'Europe/London', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham']) {
    it(`gives what the driver's Dates gave in a ${zone} session`, async () => {
      await client.query(`SET TimeZone = '${zone}'`);
      const text = 'SELECT unnest($1::timestamptz[]) AS at';
      const plain = await client.query<{ at: Date }>(text, [INSTANTS]);
      const iso = await client.query<{ at: string }>({
        text,
        values: [INSTANTS],
        types: ISO_TIMESTAMP_TYPES,
      });
      expect(iso.rows.map((r) => r.at)).toEqual(plain.rows.map((r) => r.at.toISOString()));
      expect(iso.rows[2].at).toBe('2026-12-07T13:45:09.123Z');
    });
  }
});
