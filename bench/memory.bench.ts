import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { authContext } from '../src/auth/auth-context.js';
import { BASIC_SUBJECT_ISSUER } from '../src/auth/auth.service.js';
import type { TwinCommand } from '../src/twins/twin.types.js';
import { BENCH_USER, benchAuthHeaders } from './auth.js';
import {
  benchDatabase,
  connectEach,
  machine,
  provision,
  cpuSecondsOf,
  residentOf,
  seedTwins,
  startMosquitto,
  startPlatform,
  startServer,
  stopServer,
} from './support.js';

/**
 * `npm run bench:memory`: the platform's memory under a steady load, as shipped (built app in a
 * child process, authentication on, embedded MQTT broker):
 * - THINGS twins seeded through TwinsService.applyMany as the bench user (each with the default
 *   policy the platform makes for its creator);
 * - the first DEVICES of them provisioned over REST and connected as authenticated MQTT devices,
 *   one connection each, publishing RATE QoS 1 readings/s in total, spread evenly over them;
 * - CLIENTS authenticated /ws/2 clients, each subscribed to all events (START-SEND-EVENTS), so
 *   every reading reaches every client.
 * After WARMUP s of load, the platform's RSS (VmRSS of /proc/<pid>/status) and its heap (from its
 * /metrics) are sampled every 10 s for SOAK s and printed with readings committed and events
 * delivered; then start vs end, growth, peak (VmHWM) and the goal (RSS < 400 MB, no growth).
 * The baseline in the same run: a bare mqtt.js subscriber + bare `ws` relay (memory-raw-relay.ts)
 * under the same devices (anonymous, on a Mosquitto of the bench's own), rate and clients, for
 * BASELINE_SECONDS. Prints figures; asserts nothing.
 * BENCH_THINGS / BENCH_DEVICES / BENCH_CLIENTS / BENCH_RATE set the size, for a growth curve;
 * BENCH_KEEP=1 keeps the seeded database and BENCH_REUSE_URL measures on it without seeding.
 */
const THINGS = Number(process.env.BENCH_THINGS ?? 100_000);
const DEVICES = Math.min(THINGS, Number(process.env.BENCH_DEVICES ?? 1000));
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
/** Readings per second, all devices together. */
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SOAK = Number(process.env.BENCH_SOAK ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const BASELINE_SECONDS = Number(process.env.BENCH_BASELINE_SECONDS ?? Math.min(SOAK, 60));
const SAMPLE_S = 10;
const GOAL_MB = 400;
const relay = fileURLToPath(new URL('./memory-raw-relay.js', import.meta.url));
const AUTH = authContext([`${BASIC_SUBJECT_ISSUER}:${BENCH_USER.username}`]);
const thingId = (i: number) => `bench.mem:t-${i}`;
const deviceIds = Array.from({ length: DEVICES }, (_, d) => thingId(d));
const MB = 2 ** 20;

function thingCommand(i: number): TwinCommand {
  return {
    type: 'create',
    thingId: thingId(i),
    path: [],
    origin: 'rest',
    auth: AUTH,
    value: {
      attributes: { building: `B${i % 1000}`, floor: i % 20 },
      features: { meter: { properties: { power: (i * 7) % 5000, seq: 0 } } },
    },
  };
}

/**
 * Readings at RATE/s in total, one batch every 100 ms, device after device (each its own seq).
 * A reading whose device has one unacknowledged already is skipped and counted: the load stays
 * what was asked for and the bench's own queue stays bounded if the platform falls behind.
 */
function publishSteadily(clients: MqttClient[]): {
  stats: { published: number; acked: number; skipped: number };
  stop: () => void;
} {
  const stats = { published: 0, acked: 0, skipped: 0 };
  const seq = new Uint32Array(clients.length);
  const waiting = new Uint8Array(clients.length);
  const start = performance.now();
  let due = 0;
  let next = 0;
  const timer = setInterval(() => {
    const target = Math.floor(((performance.now() - start) / 1000) * RATE);
    for (; due < target; due++, next = (next + 1) % clients.length) {
      if (waiting[next]) {
        stats.skipped++;
        continue;
      }
      const d = next;
      const s = ++seq[d];
      const body = JSON.stringify({ seq: s, features: { meter: { seq: s, power: (s * 7 + d) % 5000 } } });
      waiting[d] = 1;
      stats.published++;
      clients[d].publish(`things/${deviceIds[d]}/telemetry`, body, { qos: 1 }, (err) => {
        waiting[d] = 0;
        if (!err) stats.acked++;
      });
    }
  }, 100);
  return { stats, stop: () => clearInterval(timer) };
}

/** WebSocket clients that count what they receive; on the platform each asks for all events. */
async function openClients(
  url: string,
  platform: boolean,
): Promise<{ received: () => number; close: () => void }> {
  let received = 0;
  const sockets = await Promise.all(
    Array.from({ length: CLIENTS }, () => {
      const ws = new WebSocket(url, {
        skipUTF8Validation: true,
        headers: platform ? benchAuthHeaders() : {},
      });
      return new Promise<WebSocket>((ok, fail) => {
        ws.once('error', fail);
        ws.once('unexpected-response', (_req, res) =>
          fail(new Error(`the upgrade was answered ${res.statusCode}`)),
        );
        ws.once('open', () => {
          if (!platform) return ok(ws);
          ws.once('message', () => ok(ws)); // START-SEND-EVENTS:ACK
          ws.send('START-SEND-EVENTS');
        });
      });
    }),
  );
  for (const ws of sockets) ws.on('message', () => received++);
  return { received: () => received, close: () => sockets.forEach((ws) => ws.terminate()) };
}

/** The platform's /metrics, as name{labels} → value. */
async function scrape(base: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m) values.set(m[1], Number(m[2]));
  }
  return values;
}

interface Sample {
  t: number;
  rss: number;
  /** CPU seconds the process has used so far. */
  cpu: number;
  heap?: number;
  external?: number;
  committed?: number;
  delivered: number;
}

/** Samples every SAMPLE_S s for `seconds`, starting now; prints each row as it comes. */
async function sampleFor(
  pid: number,
  seconds: number,
  read: () => Promise<Omit<Sample, 't' | 'rss' | 'cpu'>>,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const t0 = performance.now();
  console.log(
    '     t |  RSS MB | heap used MB | external MB | readings committed | events delivered | events/s',
  );
  for (let k = 0; k * SAMPLE_S <= seconds; k++) {
    const wait = t0 + k * SAMPLE_S * 1000 - performance.now();
    if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
    const s: Sample = {
      t: k * SAMPLE_S,
      rss: residentOf(pid).rss,
      cpu: cpuSecondsOf(pid),
      ...(await read()),
    };
    const prev = samples[samples.length - 1];
    samples.push(s);
    const mb = (v: number | undefined, w: number) =>
      (v === undefined ? '—' : (v / MB).toFixed(1)).padStart(w);
    const n = (v: number | undefined, w: number) => (v === undefined ? '—' : v.toFixed(0)).padStart(w);
    console.log(
      `${n(s.t, 5)}s | ${mb(s.rss, 7)} | ${mb(s.heap, 12)} | ${mb(s.external, 11)} | ${n(s.committed, 18)} | ${n(s.delivered, 16)} | ${n(prev ? (s.delivered - prev.delivered) / SAMPLE_S : undefined, 8)}`,
    );
  }
  return samples;
}

function summary(name: string, samples: Sample[], peak: number): string {
  const first = samples[0];
  const last = samples[samples.length - 1];
  const growth = last.rss - first.rss;
  const max = Math.max(peak, ...samples.map((s) => s.rss));
  const heap =
    first.heap !== undefined && last.heap !== undefined
      ? `; heap used ${(first.heap / MB).toFixed(1)} → ${(last.heap / MB).toFixed(1)} MB`
      : '';
  const cpu = last.cpu - first.cpu;
  const delivered = last.delivered - first.delivered;
  return (
    `${name}: RSS start ${(first.rss / MB).toFixed(1)} MB (after warm-up), end ${(last.rss / MB).toFixed(1)} MB after ${last.t} s, ` +
    `growth ${growth >= 0 ? '+' : ''}${(growth / MB).toFixed(1)} MB (${((growth / first.rss) * 100).toFixed(1)} %), peak ${(max / MB).toFixed(1)} MB${heap}; ` +
    `CPU ${cpu.toFixed(1)} s (${((cpu / last.t) * 100).toFixed(0)} % of a core, ${delivered > 0 ? ((cpu * 1e6) / delivered).toFixed(2) : '—'} ms per 1k events delivered)`
  );
}

async function measurePlatform(
  dbUrl: string,
): Promise<{ samples: Sample[]; peak: number; end: Map<string, number> }> {
  const app = await startPlatform(dbUrl, {});
  let devices: MqttClient[] = [];
  let clients: Awaited<ReturnType<typeof openClients>> | undefined;
  let load: ReturnType<typeof publishSteadily> | undefined;
  try {
    const mb = () => `${(residentOf(app.pid).rss / MB).toFixed(1)} MB`;
    console.log(`platform started (pid ${app.pid}): RSS ${mb()}`);
    const t0 = performance.now();
    const secrets = await provision(app.base, deviceIds);
    devices = (
      await connectEach(
        app.mqttUrl,
        (d) => ({ clientId: deviceIds[d], username: deviceIds[d], password: secrets.get(deviceIds[d]) }),
        deviceIds,
      )
    ).clients;
    console.log(
      `${DEVICES} devices provisioned and connected in ${((performance.now() - t0) / 1000).toFixed(1)} s: RSS ${mb()}`,
    );
    clients = await openClients(`${app.base.replace('http', 'ws')}/ws/2`, true);
    console.log(`${CLIENTS} /ws/2 clients subscribed: RSS ${mb()}`);
    load = publishSteadily(devices);
    await new Promise((ok) => setTimeout(ok, WARMUP * 1000));
    console.log(`after ${WARMUP} s of load (warm-up): RSS ${mb()}`);
    const received = clients.received;
    let last = new Map<string, number>();
    const samples = await sampleFor(app.pid, SOAK, async () => {
      last = await scrape(app.base);
      return {
        heap: last.get('nodejs_heap_size_used_bytes'),
        external: last.get('nodejs_external_memory_bytes'),
        committed: last.get('twin_ingest_readings_committed_total'),
        delivered: received(),
      };
    });
    const { stats } = load;
    console.log(
      `devices: ${stats.published} readings published, ${stats.acked} acknowledged, ${stats.skipped} skipped (device still waiting for its previous ack); server-side WebSocket deliveries ${last.get('twin_websocket_events_delivered_total') ?? '—'}`,
    );
    return { samples, peak: residentOf(app.pid).peak, end: last };
  } finally {
    load?.stop();
    clients?.close();
    await Promise.all(devices.map((c) => c.endAsync()));
    await app.stop();
  }
}

async function measureBaseline(): Promise<{ samples: Sample[]; peak: number; broker: number }> {
  const broker = await startMosquitto();
  const { port, child } = await startServer(relay, [broker.url], {});
  const pid = child.pid ?? 0;
  let devices: MqttClient[] = [];
  let clients: Awaited<ReturnType<typeof openClients>> | undefined;
  let load: ReturnType<typeof publishSteadily> | undefined;
  try {
    devices = (
      await connectEach(broker.url, (d) => ({ clientId: `bench-mem-${d}-${process.pid}` }), deviceIds)
    ).clients;
    clients = await openClients(`ws://127.0.0.1:${port}`, false);
    load = publishSteadily(devices);
    await new Promise((ok) => setTimeout(ok, WARMUP * 1000));
    const received = clients.received;
    const samples = await sampleFor(pid, BASELINE_SECONDS, () => Promise.resolve({ delivered: received() }));
    return { samples, peak: residentOf(pid).peak, broker: broker.pid ? residentOf(broker.pid).rss : 0 };
  } finally {
    load?.stop();
    clients?.close();
    await Promise.all(devices.map((c) => c.endAsync()));
    await stopServer(child);
    broker.stop();
  }
}

const reuse = process.env.BENCH_REUSE_URL;
const db = reuse ? { url: reuse, close: () => Promise.resolve() } : await benchDatabase();
try {
  console.log(`machine: ${machine()}`);
  console.log(
    `${THINGS} twins, ${DEVICES} authenticated MQTT devices publishing ${RATE} QoS 1 readings/s in total, ${CLIENTS} /ws/2 clients subscribed to all events; warm-up ${WARMUP} s, then a sample every ${SAMPLE_S} s for ${SOAK} s`,
  );
  if (!reuse) {
    console.log(`seeding ${THINGS} twins through TwinsService.applyMany as the bench user…`);
    const rate = await seedTwins(db.url, THINGS, thingCommand);
    console.log(`seeded at ${rate.toFixed(0)} things/s`);
  }
  console.log(
    `\nplatform (built app in a child process, authentication on, embedded broker; node flags: ${process.env.BENCH_APP_ARGS || 'none'}):`,
  );
  const ours = await measurePlatform(db.url);
  const spaces = [...ours.end]
    .filter(([k]) => k.startsWith('nodejs_heap_space_size_used_bytes'))
    .map(([k, v]) => `${/space="(\w+)"/.exec(k)?.[1] ?? k} ${(v / MB).toFixed(1)}`)
    .join(', ');
  console.log(
    `heap at the end: total ${((ours.end.get('nodejs_heap_size_total_bytes') ?? 0) / MB).toFixed(1)} MB; used by space (MB): ${spaces}`,
  );
  console.log(
    `\nbaseline: bare mqtt.js subscriber + bare ws relay, same ${DEVICES} devices (anonymous, on Mosquitto), ${RATE} readings/s, ${CLIENTS} clients; warm-up ${WARMUP} s, ${BASELINE_SECONDS} s:`,
  );
  const raw = await measureBaseline();
  console.log('');
  console.log(summary('platform', ours.samples, ours.peak));
  console.log(summary('baseline', raw.samples, raw.peak));
  console.log(
    `  (the baseline's broker connections live in Mosquitto, RSS ${(raw.broker / MB).toFixed(1)} MB at the end; the platform holds them in its own process)`,
  );
  const end = ours.samples[ours.samples.length - 1].rss;
  const rawEnd = raw.samples[raw.samples.length - 1].rss;
  console.log(
    `platform − baseline at the end: ${((end - rawEnd) / MB).toFixed(1)} MB (×${(end / rawEnd).toFixed(1)})`,
  );
  const peak = Math.max(ours.peak, ...ours.samples.map((s) => s.rss));
  console.log(
    `goal RSS < ${GOAL_MB} MB: ${peak < GOAL_MB * MB ? 'met' : 'MISSED'} (peak ${(peak / MB).toFixed(1)} MB, end ${(end / MB).toFixed(1)} MB)`,
  );
} finally {
  if (process.env.BENCH_KEEP && !reuse) console.log(`kept the database: BENCH_REUSE_URL=${db.url}`);
  else await db.close();
}
