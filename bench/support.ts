import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/persistence/embedded-postgres.js';

/** A database just for one benchmark run: on DATABASE_URL's server, else an embedded one. */
export async function benchDatabase(): Promise<{ url: string; close: () => Promise<void> }> {
  let serverUrl = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let dir: string | undefined;
  if (!serverUrl) {
    dir = mkdtempSync(join(tmpdir(), 'twin-bench-pg-'));
    chmodSync(dir, 0o755);
    const embedded = await startEmbeddedPostgres({ dataDir: dir, port: 0 });
    serverUrl = embedded.url;
    stopEmbedded = () => embedded.stop();
  }
  const name = `twin_bench_${randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    close: async () => {
      await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await stopEmbedded?.();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * Starts a target server in a child process, so the load generator (this process) does not
 * share an event loop with it. The child sends {port} when it listens.
 */
export function startServer(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ port: number; child: ChildProcess }> {
  return new Promise((ok, fail) => {
    const child = fork(script, args, { env: { ...process.env, ...env }, stdio: 'inherit' });
    child.once('message', (m: { port: number }) => ok({ port: m.port, child }));
    child.once('exit', (code) => fail(new Error(`${script} ${args.join(' ')} exited with ${code}`)));
  });
}

export async function stopServer(child: ChildProcess): Promise<void> {
  child.removeAllListeners('exit');
  await new Promise<void>((ok) => {
    child.once('exit', () => ok());
    child.kill('SIGTERM');
  });
}

export interface LoadResult {
  requestsPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** autocannon against `paths` in rotation, every request with `headers` (e.g. credentials). */
export async function load(
  port: number,
  paths: string[],
  seconds: number,
  connections: number,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  let i = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    headers,
    requests: [{ setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length] }) }],
  });
  return {
    requestsPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}
