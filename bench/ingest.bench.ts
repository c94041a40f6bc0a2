import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { benchAuthEnv, envWithoutAuth } from './auth.js';
import { benchDatabase, machine } from './support.js';

/**
 * `npm run bench:ingest`: DEVICES simulated devices multiplexed over CONNECTIONS MQTT
 * connections publish readings at QoS 1 into a Mosquitto of the bench's own, as fast as the
 * consumer takes them: at most a window of them published but not yet consumed. Consumer one:
 * the platform (built app in a child process) — a reading counts when its twin shows it,
 * history included (seen in the journal, which commits with the twin). Consumer two, the
 * baseline: a bare mqtt.js subscriber that only counts. Two scenarios, each with both:
 * - capacity: a window deep enough (100,000) that only the consumer limits the rate;
 * - latency: a window of 4,000 (4 per device), where the rate is window ÷ latency.
 * BENCH_WINDOW and BENCH_MESSAGES run one scenario of your own instead. Prints figures;
 * asserts nothing.
 */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 1000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

interface Scenario {
  name: string;
  window: number;
  messages: number;
}

const SCENARIOS: Scenario[] =
  process.env.BENCH_WINDOW || process.env.BENCH_MESSAGES
    ? [
        {
          name: 'custom',
          window: Number(process.env.BENCH_WINDOW ?? 100_000),
          messages: Number(process.env.BENCH_MESSAGES ?? 300_000),
        },
      ]
    : [
        { name: 'capacity', window: 100_000, messages: 300_000 },
        { name: 'latency', window: 4_000, messages: 100_000 },
      ];
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

/** Newest consumed seq per device topic, as the consumer reports it. */
type Progress = () => Promise<Record<string, number>>;

interface Result {
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
}

async function run(url: string, progress: Progress, scenario: Scenario): Promise<Result> {
  const PER_DEVICE = Math.ceil(scenario.messages / DEVICES);
  const WINDOW = scenario.window;
  const clients: MqttClient[] = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, c) =>
      mqtt.connectAsync(url, { clientId: `bench-pub-${c}-${process.pid}` }),
    ),
  );
  const topics = Array.from({ length: DEVICES }, (_, d) => `things/bench.ingest:dev-${d}/telemetry`);
  const sentAt = new Float64Array(DEVICES * PER_DEVICE);
  const latencies: number[] = [];
  const seen = new Int32Array(DEVICES).fill(-1);
  let published = 0;
  let consumed = 0;
  const t0 = performance.now();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const newest = await progress();
      const now = performance.now();
      for (let d = 0; d < DEVICES; d++) {
        const seq = newest[topics[d]] ?? -1;
        for (let s = seen[d] + 1; s <= seq; s++) latencies.push(now - sentAt[d * PER_DEVICE + s]);
        if (seq > seen[d]) {
          consumed += seq - seen[d];
          seen[d] = seq;
        }
      }
      if (consumed >= DEVICES * PER_DEVICE) break;
      await new Promise((ok) => setTimeout(ok, 25));
    }
  })();
  // Device d publishes on connection d % CONNECTIONS, its readings in seq order.
  await Promise.all(
    clients.map(async (client, c) => {
      const mine = topics.map((_, d) => d).filter((d) => d % CONNECTIONS === c);
      for (let seq = 0; seq < PER_DEVICE; seq++) {
        while (published - consumed > WINDOW) await new Promise((ok) => setTimeout(ok, 2));
        await Promise.all(
          mine.map((d) => {
            sentAt[d * PER_DEVICE + seq] = performance.now();
            published++;
            const body = JSON.stringify({
              ts: 1_700_000_000_000 + seq,
              seq,
              features: { meter: { seq, power: (seq * 7) % 5000 } },
            });
            return client.publishAsync(topics[d], body, { qos: 1 });
          }),
        );
      }
    }),
  );
  await poller;
  polling = false;
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.endAsync()));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { seconds, rate: (DEVICES * PER_DEVICE) / seconds, p50: q(0.5), p99: q(0.99) };
}

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

async function startMosquitto(): Promise<{ url: string; stop: () => void }> {
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
    stop: () => {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function baseline(url: string, scenario: Scenario): Promise<Result> {
  const child = fork(here('./ingest-raw-subscriber.js'), [url], { stdio: 'inherit' });
  let latest: Record<string, number> = {};
  await new Promise<void>((ok) =>
    child.on('message', (m: { port?: number; newest?: Record<string, number> }) => {
      if (m.newest) latest = m.newest;
      else ok();
    }),
  );
  try {
    return await run(url, () => Promise.resolve(latest), scenario);
  } finally {
    child.kill('SIGTERM');
  }
}

async function platform(url: string, dbUrl: string, scenario: Scenario): Promise<Result> {
  // BENCH_APP_ARGS: node flags for the platform, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const nodeArgs = (process.env.BENCH_APP_ARGS ?? '').split(' ').filter((a) => a !== '');
  const app: ChildProcess = spawn(process.execPath, [...nodeArgs, here('../src/main.js')], {
    env: {
      ...envWithoutAuth(),
      // Authentication on, as in production, though this bench only talks MQTT to it.
      ...benchAuthEnv(),
      DATABASE_URL: dbUrl,
      MQTT_URL: url,
      PORT: '0',
      LOG_LEVEL: 'warn',
      DEVICE_INACTIVITY_TIMEOUT: '0',
    },
    stdio: 'inherit',
  });
  const db = new pg.Client({ connectionString: dbUrl });
  try {
    // Ready once a probe reading has gone all the way into the database.
    await db.connect();
    const probe = await mqtt.connectAsync(url);
    for (;;) {
      await probe.publishAsync('things/bench.ingest:probe/telemetry', '{"features":{"p":{"up":1}}}', {
        qos: 1,
      });
      await new Promise((ok) => setTimeout(ok, 200));
      const rows = await db
        .query(`SELECT 1 FROM things WHERE thing_id = 'bench.ingest:probe'`)
        .catch(() => undefined);
      if (rows && rows.rowCount) break;
    }
    await probe.endAsync();
    return await run(url, journalProgress(db), scenario);
  } finally {
    app.kill('SIGTERM');
    await db.end().catch(() => undefined);
  }
}

/**
 * The newest seq each device's twin shows, read from the journal: a journal entry commits with
 * the twin change it records, and entries become visible in seq order, so reading after the
 * last seq seen misses none. Each poll reads only what is new: re-reading all 1,000 twins every
 * 25 ms took about 2 ms of database time a poll, on the cores the platform needs.
 */
function journalProgress(db: pg.Client): Progress {
  const newest: Record<string, number> = {};
  let after = '0';
  return async () => {
    const { rows } = await db.query<{ seq: string; id: string; s: string | null }>(
      `SELECT seq, thing_id AS id, value#>>'{features,meter,properties,seq}' AS s FROM journal
       WHERE seq > $1 AND thing_id LIKE 'bench.ingest:dev-%' ORDER BY seq`,
      [after],
    );
    for (const r of rows) {
      const topic = `things/${r.id}/telemetry`;
      if (r.s !== null && !(Number(r.s) <= newest[topic])) newest[topic] = Number(r.s);
    }
    if (rows.length > 0) after = rows[rows.length - 1].seq;
    return newest;
  };
}

/**
 * Readings in flight by Little's law (rate × median latency): close to the window means the
 * publishers waited on the window, so the rate is WINDOW / latency rather than what the
 * consumer could take (the capacity scenario shows that).
 */
const fmt = (r: Result) =>
  `${r.rate.toFixed(0).padStart(7)} readings/s  (${r.seconds.toFixed(1)} s)  publish→consumed p50 ${r.p50.toFixed(0)} ms  p99 ${r.p99.toFixed(0)} ms  ≈${((r.rate * r.p50) / 1000).toFixed(0)} in flight`;

console.log(`machine: ${machine()}`);
for (const scenario of SCENARIOS) {
  // A broker and a database of their own per scenario: nothing carries over.
  const broker = await startMosquitto();
  const database = await benchDatabase();
  try {
    console.log(
      `\n${scenario.name}: ${DEVICES} devices over ${CONNECTIONS} connections, ${scenario.messages} QoS 1 readings (2 properties each), window ${scenario.window}`,
    );
    const raw = await baseline(broker.url, scenario);
    console.log(`raw mqtt.js subscriber  ${fmt(raw)}`);
    const ours = await platform(broker.url, database.url, scenario);
    console.log(`platform (twin+history) ${fmt(ours)}`);
    console.log(`ratio platform/raw: ${(ours.rate / raw.rate).toFixed(2)} (goal ≥ 0.5)`);
  } finally {
    broker.stop();
    await database.close();
  }
}
