import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { authHeaders, inheritedEnvWithoutAuth, withTestAuth } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';
import { SYNC_USER, TcpProxy, Upstream } from '../support/ditto-upstream.js';
import { freePort, uniqueNamespace, waitFor } from '../support/mqtt.js';
import { call, journalOf, pool, settled, thing } from '../e2e/ditto-sync.support.js';

/**
 * The syncing platform (the built app, as production runs it) is SIGKILLed while it drains a
 * backlog of 2,000 changes into "Ditto" (a second platform instance), then started again: it
 * resumes from its persisted cursor, so every change arrives, in per-thing order, and only the
 * few in flight at the kill are sent again.
 */
const THINGS = 50;
const UPDATES = 40;
const ns = uniqueNamespace('synccrash');
const MAIN = 'dist/src/main.js';

let upstream: Upstream;
let proxy: TcpProxy;
let database: { url: string; drop: () => Promise<void> };
let child: ChildProcess | undefined;
let base = '';
let env: Record<string, string> = {};
let output = '';

function start(): ChildProcess {
  const c = spawn(process.execPath, [MAIN], {
    env: { ...inheritedEnvWithoutAuth(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return c;
}

afterAll(() => {
  if (output.includes('unhandled')) console.error(output);
});

async function kill(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((ok) => {
    c.once('exit', () => ok());
    c.kill('SIGKILL');
  });
}

/** The local platform, as the shared helpers expect it. */
const local = () => ({ baseUrl: base }) as Parameters<typeof settled>[0];

async function upstreamCounterWrites(): Promise<number> {
  const { rows } = await upstream.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM journal WHERE path = '/attributes/counter'`,
  );
  return rows[0].n;
}

beforeAll(async () => {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
  upstream = await Upstream.start();
  proxy = await upstream.openProxy();
  database = await createTestDatabase();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = withTestAuth({
    ...SYNC_USER,
    DATABASE_URL: database.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    MQTT_PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
    DITTO_URL: proxy.url,
    DITTO_NAMESPACES: ns,
    DITTO_RETRY_MAX_MS: '500',
    // Slow enough a drain to be caught in the middle.
    DITTO_SYNC_CONCURRENCY: '2',
  });
}, 180_000);

afterAll(async () => {
  await kill(child);
  await proxy?.cut();
  await upstream?.close();
  await database?.drop();
});

it('resumes from its persisted cursor after a SIGKILL in the middle of a backlog', async () => {
  child = start();
  await waitFor('the platform to serve', async () => (await fetch(`${base}/health`)).ok || undefined, 60_000);
  const ids = Array.from({ length: THINGS }, (_, i) => `${ns}:meter-${i}`);
  await pool(ids, 10, async (id) => {
    await call(base, 'PUT', `/api/2/things/${id}`, { attributes: { counter: 0 } });
  });
  await settled(local());

  await proxy.cut();
  for (let n = 1; n <= UPDATES; n++) {
    await pool(ids, 10, async (id) => {
      expect((await call(base, 'PUT', `/api/2/things/${id}/attributes/counter`, n)).status).toBe(204);
    });
  }
  await proxy.open();
  await waitFor(
    'part of the backlog upstream',
    async () => (await upstreamCounterWrites()) >= 300 || undefined,
    60_000,
  ).catch(async (err: unknown) => {
    console.error(
      JSON.stringify(await (await fetch(`${base}/api/2/sync/ditto`, { headers: authHeaders() })).json()),
      output.slice(-3000),
    );
    throw err;
  });
  await kill(child);
  const beforeKill = await upstreamCounterWrites();
  expect(beforeKill).toBeLessThan(THINGS * UPDATES);

  child = start();
  await waitFor(
    'the platform to serve again',
    async () => (await fetch(`${base}/health`)).ok || undefined,
    60_000,
  );
  await settled(local(), 120_000);

  const total = await upstreamCounterWrites();
  // Only what was in flight or not yet checkpointed at the kill is sent a second time.
  expect(total - THINGS * UPDATES).toBeLessThan(beforeKill / 2);
  for (const id of ids) {
    expect((await thing(upstream.baseUrl, id))?.attributes).toEqual({ counter: UPDATES });
    const values = (await journalOf(upstream.db, id))
      .filter((r) => r.path === '/attributes/counter')
      .map((r) => r.value as number);
    expect(new Set(values)).toEqual(new Set(Array.from({ length: UPDATES }, (_, i) => i + 1)));
    // A value sent again comes before the ones after it: the last write of each is in order.
    const lastAt = Array.from({ length: UPDATES }, (_, i) => values.lastIndexOf(i + 1));
    expect(lastAt).toEqual([...lastAt].sort((a, b) => a - b));
  }
}, 300_000);
