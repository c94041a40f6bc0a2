import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pg from 'pg';
import type { TwinCommand } from '../src/twins/twin.types.js';
import { benchAuthEnv, benchAuthHeaders, envWithoutAuth } from './auth.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

/** A database just for one benchmark run: on DATABASE_URL's server, else an embedded one. */
export async function benchDatabase(): Promise<{ url: string; close: () => Promise<void> }> {
  let serverUrl = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let dir: string | undefined;
  if (!serverUrl) {
    dir = mkdtempSync(join(tmpdir(), 'twin-bench-pg-'));
    chmodSync(dir, 0o755);
    const { startEmbeddedPostgres, cacheFlags } = await import('../src/persistence/embedded-postgres.js');
    const { loadConfig } = await import('../src/config/config.schema.js');
    // The cache `npm start` gives its embedded PostgreSQL.
    const flags = cacheFlags(loadConfig(process.env).EMBEDDED_PG_SHARED_BUFFERS_MB);
    const embedded = await startEmbeddedPostgres({ dataDir: dir, port: 0, postgresFlags: flags });
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

/** BENCH_APP_ARGS: node flags for the platform's process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
const appArgs = (process.env.BENCH_APP_ARGS ?? '').split(' ').filter((a) => a !== '');

/**
 * Starts a target server in a child process, so the load generator (this process) does not
 * share an event loop with it. The child sends {port} when it listens. `platform`: the child is
 * the platform (not a bare baseline) and gets BENCH_APP_ARGS.
 */
export function startServer(
  script: string,
  args: string[],
  env: Record<string, string>,
  platform = false,
): Promise<{ port: number; child: ChildProcess }> {
  return new Promise((ok, fail) => {
    const child = fork(script, args, {
      env: { ...process.env, ...env },
      stdio: 'inherit',
      execArgv: [...process.execArgv, ...(platform ? appArgs : [])],
    });
    child.once('message', (m: { port: number }) => ok({ port: m.port, child }));
    child.once('exit', (code) => fail(new Error(`${script} ${args.join(' ')} exited with ${code}`)));
  });
}

/** SIGTERM, then the child's exit (at once if it has already ended). */
export async function stopServer(child: ChildProcess): Promise<void> {
  child.removeAllListeners('exit');
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((ok) => {
    child.once('exit', () => ok());
    child.kill('SIGTERM');
  });
}

export interface LoadResult {
  requestsPerSec: number;
  /** Requests answered in all. */
  total: number;
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
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/**
 * The platform's modules, loaded only by a bench that seeds through them: a measuring process that
 * carried the whole application on its heap (tens of MB) would pay for marking it in every full
 * garbage collection, and those pauses would show as the latency it measures.
 */
async function platformModules() {
  const [{ NestFactory }, { AppModule }, { loadConfig }, { ConfigService }, { TwinsService }] =
    await Promise.all([
      import('@nestjs/core'),
      import('../src/app.module.js'),
      import('../src/config/config.schema.js'),
      import('../src/config/config.service.js'),
      import('../src/twins/twins.service.js'),
    ]);
  return { NestFactory, AppModule, loadConfig, ConfigService, TwinsService };
}

/**
 * Seeds things `from`…`count - 1` through TwinsService.applyMany in an application context of this process
 * (the platform's own write path: policies, readers summary, journal), `batch` commands a
 * transaction, `parallel` transactions at once. Returns things/s.
 */
export async function seedTwins(
  url: string,
  count: number,
  command: (i: number) => TwinCommand,
  { batch = 1000, parallel = 2, from = 0 }: { batch?: number; parallel?: number; from?: number } = {},
): Promise<number> {
  const { NestFactory, AppModule, loadConfig, ConfigService, TwinsService } = await platformModules();
  const config = new ConfigService(loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'error' }));
  const ctx = await NestFactory.createApplicationContext(AppModule.withConfig(config), { logger: ['error'] });
  const twins = ctx.get(TwinsService);
  const started = performance.now();
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const from = next;
      next += batch;
      await twins.applyMany(
        Array.from({ length: Math.min(batch, count - from) }, (_, k) => command(from + k)),
      );
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = (performance.now() - started) / 1000;
  await ctx.close();
  return (count - from) / seconds;
}

/**
 * A process's resident set size now and its peak, in bytes (VmRSS and VmHWM of
 * /proc/<pid>/status; Linux); 0 once it is gone.
 */
export function residentOf(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 1/100 s). */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by each PostgreSQL process of this machine, by pid. */
export function postgresCpu(): Map<number, number> {
  const used = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      used.set(pid, cpuSecondsOf(pid));
    } catch {
      // Gone between listing and reading.
    }
  }
  return used;
}

/**
 * CPU seconds PostgreSQL used since `before` (a postgresCpu() reading): the benchmarks' database is
 * the machine's or the embedded one, both named `postgres`. A process that ended in between
 * (an autovacuum worker, say) is left out rather than subtracted.
 */
export function postgresCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of postgresCpu()) total += seconds - (before.get(pid) ?? 0);
  return total;
}

export function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** A Mosquitto of the bench's own: anonymous, on a free port, nothing queued. */
export async function startMosquitto(): Promise<{ url: string; pid?: number; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosquitto-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'm.conf'),
    `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nuser root\nlog_dest none\n`,
  );
  const child = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'm.conf')], { stdio: 'ignore' });
  await new Promise((ok) => setTimeout(ok, 500));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid,
    stop: () => {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One connection per device, all opened at once; the time until the last CONNACK. A refused or
 * reset attempt is retried (mqtt.js reconnects; connectAsync resolves on the first CONNACK).
 */
export async function connectEach(
  url: string,
  options: (d: number) => IClientOptions,
  ids: readonly string[],
): Promise<{ clients: MqttClient[]; seconds: number }> {
  const t0 = performance.now();
  const clients = await Promise.all(
    ids.map(async (_, d) => {
      const c = await mqtt.connectAsync(url, { reconnectPeriod: 500, connectTimeout: 60_000, ...options(d) });
      c.on('error', () => undefined);
      return c;
    }),
  );
  return { clients, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The built platform (dist/src/main.js) in a child process with authentication on (the bench
 * user), its embedded MQTT broker and HTTP on free ports; resolves once /health answers,
 * with BENCH_APP_ARGS.
 */
export async function startPlatform(
  dbUrl: string,
  env: Record<string, string>,
): Promise<{ base: string; mqttUrl: string; pid: number; stop: () => Promise<void> }> {
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const app: ChildProcess = spawn(process.execPath, [...appArgs, here('../src/main.js')], {
    env: {
      ...envWithoutAuth(),
      ...benchAuthEnv(),
      DATABASE_URL: dbUrl,
      MQTT_URL: '',
      MQTT_PORT: String(mqttPort),
      PORT: String(httpPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DEVICE_INACTIVITY_TIMEOUT: '0',
      ...env,
    },
    stdio: 'inherit',
  });
  const base = `http://127.0.0.1:${httpPort}`;
  for (;;) {
    const up = await fetch(`${base}/health`).catch(() => undefined);
    if (up?.ok) break;
    await new Promise((ok) => setTimeout(ok, 200));
  }
  return {
    base,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    pid: app.pid ?? 0,
    stop: async () => {
      const exited = new Promise<void>((ok) => app.once('exit', () => ok()));
      app.kill('SIGTERM');
      await Promise.race([exited, new Promise((ok) => setTimeout(ok, 15_000))]);
    },
  };
}

/** Devices provisioned over REST (generated secrets), 1,000 a call; their secrets. */
export async function provision(base: string, ids: readonly string[]): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const res = await fetch(`${base}/api/2/devices/provision`, {
      method: 'POST',
      headers: { ...benchAuthHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ things: ids.slice(i, i + 1000).map((thingId) => ({ thingId })) }),
    });
    if (!res.ok) throw new Error(`provisioning: ${res.status} ${await res.text()}`);
    for (const t of ((await res.json()) as { things: { thingId: string; secret: string }[] }).things) {
      secrets.set(t.thingId, t.secret);
    }
  }
  return secrets;
}
