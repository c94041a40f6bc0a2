import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pg from 'pg';
import { benchAuthEnv, benchAuthHeaders, envWithoutAuth } from './auth.js';
import { startSecuredMosquitto, type SecuredMosquitto } from './mosquitto-secured.js';
import {
  benchDatabase,
  connectEach,
  freePort,
  machine,
  provision,
  startMosquitto,
  startPlatform,
  cpuSecondsOf,
  postgresCpu,
  postgresCpuSince,
  stopServer,
} from './support.js';

/**
 * `npm run bench:ingest`: DEVICES simulated devices multiplexed over CONNECTIONS MQTT
 * connections publish readings at QoS 1 into a Mosquitto of the bench's own, as fast as the
 * consumer takes them: at most a window of them published but not yet consumed. Consumer one:
 * the platform (built app in a child process) — a reading counts when its twin shows it,
 * history included (seen in the journal, which commits with the twin). Consumer two, the
 * baseline: a bare mqtt.js subscriber that only counts. Two scenarios, each with both:
 * - capacity: a window deep enough (100,000) that only the consumer limits the rate;
 * - latency: a window of 4,000 (4 per device), where the rate is window ÷ latency.
 * - paced: BENCH_RATES readings/s (5,000 and 10,000 by default) on a clock, acknowledged or not,
 *   after every device's first reading: the latency a reading sees at that load (both consumers
 *   keep up, so the ratio is ~1: the latencies are the comparison).
 * - authenticated: the platform as shipped, its embedded broker with device identity: DEVICES
 *   devices provisioned over REST, each connecting with its own credentials and publishing on its
 *   own connection (the time to connect them all is printed); the baseline in the same run is
 *   the bare subscriber on Mosquitto with one anonymous connection per device.
 * - forecasting: energy readings of homes whose forecast models are trained, into the platform with
 *   FORECAST_ENABLED=false and then =true, same workload, same starting database; the ratio on/off
 *   (goal ≥ 0.9) and the bare subscriber as baseline (see forecastingRun below).
 * BENCH_SCENARIOS picks some of them (e.g. `authenticated`); BENCH_WINDOW and BENCH_MESSAGES run
 * one scenario of your own instead. Prints figures; asserts nothing.
 */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 1000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** Readings a connection has published and not yet had acknowledged, at most (about). */
const IN_FLIGHT = Math.max(1, Math.round(DEVICES / CONNECTIONS));

interface Scenario {
  name: string;
  window: number;
  messages: number;
  /**
   * Readings per second, published on a clock whatever the acknowledgements do (an open loop,
   * as a fleet sends): the latency is then what a reading waits at that load, not a queue the
   * publishers built. Without it the publishers go as fast as the window lets them.
   */
  rate?: number;
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
        // BENCH_RATES: the paces, one run each (the goal is p99 < 250 ms at 10,000 readings/s);
        // 15 s of readings at each.
        ...(process.env.BENCH_RATES ?? '5000,10000').split(',').map((r) => ({
          name: 'paced',
          window: 100_000,
          messages: Number(r) * 15,
          rate: Number(r),
        })),
      ];
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

/** Newest consumed seq per device topic, as the consumer reports it. */
type Progress = () => Promise<Record<string, number>>;

interface Result {
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  /** CPU per 1,000 readings of the consumer's process, and of PostgreSQL, over the run. */
  cpu?: { consumer: number; postgres?: number };
}

/** `run` with the CPU the consumer (and PostgreSQL, if `database`) used meanwhile. */
async function measured(
  consumerPid: number | undefined,
  database: boolean,
  scenario: Scenario,
  go: () => Promise<Result>,
): Promise<Result> {
  const before = consumerPid ? cpuSecondsOf(consumerPid) : 0;
  const pgBefore = database ? postgresCpu() : undefined;
  const result = await go();
  if (!consumerPid) return result;
  const per1k = (seconds: number) => (seconds * 1e6) / scenario.messages;
  return {
    ...result,
    cpu: {
      consumer: per1k(cpuSecondsOf(consumerPid) - before),
      postgres: pgBefore ? per1k(postgresCpuSince(pgBefore)) : undefined,
    },
  };
}

/**
 * Publishes the scenario's readings: device d on publishers[d % publishers.length] (one
 * connection per device when there are DEVICES of them), and measures until `progress` shows
 * every reading consumed. The caller connects and ends the publishers.
 */
/** What run() publishes: how many devices, as which things, with which reading per seq. */
interface Workload {
  devices: number;
  thing: (d: number) => string;
  body: (d: number, seq: number) => string;
}

const meterWorkload: Workload = {
  devices: DEVICES,
  thing: (d) => `bench.ingest:dev-${d}`,
  body: (_d, seq) =>
    JSON.stringify({
      ts: 1_700_000_000_000 + seq,
      seq,
      features: { meter: { seq, power: (seq * 7) % 5000 } },
    }),
};

async function run(
  publishers: MqttClient[],
  progress: Progress,
  scenario: Scenario,
  workload: Workload = meterWorkload,
): Promise<Result> {
  const DEVICES = workload.devices;
  const PER_DEVICE = Math.ceil(scenario.messages / DEVICES);
  const WINDOW = scenario.window;
  const clients = publishers;
  const topics = Array.from({ length: DEVICES }, (_, d) => `things/${workload.thing(d)}/telemetry`);
  const sentAt = new Float64Array(DEVICES * PER_DEVICE);
  const latencies: number[] = [];
  const seen = new Int32Array(DEVICES).fill(-1);
  let published = 0;
  let consumed = 0;
  let t0 = performance.now();
  let warmUp = 0;
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
  if (scenario.rate) {
    // Not measured: every device's first reading, which creates its thing, all consumed.
    await Promise.all(
      topics.map((topic, d) => {
        published++;
        return clients[d % clients.length].publishAsync(topic, workload.body(d, 0), { qos: 1 });
      }),
    );
    while (consumed < DEVICES) await new Promise((ok) => setTimeout(ok, 25));
    latencies.length = 0;
    warmUp = DEVICES;
    t0 = performance.now();
    await paced(
      clients,
      topics,
      PER_DEVICE,
      scenario.rate,
      WINDOW,
      (d, seq) => {
        sentAt[d * PER_DEVICE + seq] = performance.now();
        published++;
        return workload.body(d, seq);
      },
      () => published - consumed,
    );
  } else {
    // Device d publishes on connection d % clients.length, its readings in seq order. Each
    // connection has about IN_FLIGHT readings out at once: one of each of its devices when they
    // share connections, several of its one device (pipelined, as QoS 1 allows) when each has its own.
    await Promise.all(
      clients.map(async (client, c) => {
        const mine = topics.map((_, d) => d).filter((d) => d % clients.length === c);
        const perStep = Math.max(1, Math.ceil(IN_FLIGHT / mine.length));
        for (let first = 0; first < PER_DEVICE; first += perStep) {
          while (published - consumed > WINDOW) await new Promise((ok) => setTimeout(ok, 2));
          const last = Math.min(PER_DEVICE, first + perStep);
          await Promise.all(
            mine.flatMap((d) =>
              Array.from({ length: last - first }, (_, k) => {
                const seq = first + k;
                sentAt[d * PER_DEVICE + seq] = performance.now();
                published++;
                return client.publishAsync(topics[d], workload.body(d, seq), { qos: 1 });
              }),
            ),
          );
        }
      }),
    );
  }
  await poller;
  polling = false;
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { seconds, rate: (DEVICES * PER_DEVICE - warmUp) / seconds, p50: q(0.5), p99: q(0.99) };
}

/**
 * The open loop (after seq 0 of every device): every TICK_MS the readings due by then go out, round the devices in turn (each
 * device's in seq order, on its connection), acknowledged or not. The window stays a safety bound
 * (memory), not a pace: a consumer that keeps up never reaches it.
 */
async function paced(
  clients: MqttClient[],
  topics: string[],
  perDevice: number,
  rate: number,
  window: number,
  reading: (d: number, seq: number) => string,
  outstanding: () => number,
): Promise<void> {
  const TICK_MS = 5;
  const total = topics.length * perDevice;
  const acks: Promise<unknown>[] = [];
  const start = performance.now();
  // Seq 0 of every device went out in the warm-up.
  let sent = topics.length;
  while (sent < total) {
    const due = Math.min(total, topics.length + Math.floor(((performance.now() - start) * rate) / 1000));
    for (; sent < due && outstanding() < window; sent++) {
      const d = sent % topics.length;
      const seq = Math.floor(sent / topics.length);
      acks.push(clients[d % clients.length].publishAsync(topics[d], reading(d, seq), { qos: 1 }));
    }
    await new Promise((ok) => setTimeout(ok, TICK_MS));
  }
  await Promise.all(acks);
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
  const publishers = await connectShared(url);
  try {
    return await measured(child.pid, false, scenario, () =>
      run(publishers, () => Promise.resolve(latest), scenario),
    );
  } finally {
    await Promise.all(publishers.map((c) => c.endAsync()));
    child.kill('SIGTERM');
  }
}

/** CONNECTIONS anonymous connections that the DEVICES share (the Mosquitto scenarios). */
function connectShared(url: string): Promise<MqttClient[]> {
  return Promise.all(
    Array.from({ length: CONNECTIONS }, (_, c) =>
      mqtt.connectAsync(url, { clientId: `bench-pub-${c}-${process.pid}` }),
    ),
  );
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
      // The whole fleet's things are created by their first readings within the first minute:
      // an onboarding an operator allows for, beyond the default bound of 600 a minute.
      AUTO_CREATE_PER_MINUTE: String(DEVICES + 100),
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
    const publishers = await connectShared(url);
    try {
      return await measured(app.pid, true, scenario, () => run(publishers, journalProgress(db), scenario));
    } finally {
      await Promise.all(publishers.map((c) => c.endAsync()));
    }
  } finally {
    // Stopped (its last batches committed) before the scenario stops the broker and drops the
    // database under it, which it would report as lost connections.
    await stopServer(app);
    await db.end().catch(() => undefined);
  }
}

/**
 * The newest seq each device's twin shows, read from the journal: a journal entry commits with
 * the twin change it records, and entries become visible in seq order, so reading after the
 * last seq seen misses none. Each poll reads only what is new: re-reading all 1,000 twins every
 * 25 ms took about 2 ms of database time a poll, on the cores the platform needs.
 */
function journalProgress(db: pg.Client, prefix = 'bench.ingest:dev-', feature = 'meter'): Progress {
  const newest: Record<string, number> = {};
  let after = '0';
  return async () => {
    const { rows } = await db.query<{ seq: string; id: string; s: string | null }>(
      `SELECT seq, thing_id AS id, value#>>ARRAY['features', $3::text, 'properties', 'seq'] AS s FROM journal
       WHERE seq > $1 AND thing_id LIKE $2 ORDER BY seq`,
      [after, `${prefix}%`, feature],
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
  `${r.rate.toFixed(0).padStart(7)} readings/s  (${r.seconds.toFixed(1)} s)  publish→consumed p50 ${r.p50.toFixed(0)} ms  p99 ${r.p99.toFixed(0)} ms  ≈${((r.rate * r.p50) / 1000).toFixed(0)} in flight${fmtCpu(r)}`;

const fmtCpu = ({ cpu }: Result) =>
  cpu
    ? `  CPU per 1k readings ${cpu.consumer.toFixed(0)} ms${cpu.postgres !== undefined ? ` + PostgreSQL ${cpu.postgres.toFixed(0)} ms` : ''}`
    : '';

const thingIds = Array.from({ length: DEVICES }, (_, d) => `bench.ingest:dev-${d}`);

interface EachResult extends Result {
  /** Seconds to connect the DEVICES connections. */
  connect: number;
}

/**
 * The authenticated scenarios' baseline: the bare subscriber (as `subscriberUrl` wants, with
 * `filter`), one connection per device on `deviceUrl`.
 */
async function baselineEach(
  broker: { subscriberUrl: string; filter?: string; deviceUrl: string },
  device: (d: number) => IClientOptions,
  scenario: Scenario,
): Promise<EachResult> {
  const args = [broker.subscriberUrl, ...(broker.filter ? [broker.filter] : [])];
  const child = fork(here('./ingest-raw-subscriber.js'), args, { stdio: 'inherit' });
  let latest: Record<string, number> = {};
  await new Promise<void>((ok) =>
    child.on('message', (m: { port?: number; newest?: Record<string, number> }) => {
      if (m.newest) latest = m.newest;
      else ok();
    }),
  );
  const { clients, seconds } = await connectEach(broker.deviceUrl, device, thingIds);
  try {
    return { ...(await run(clients, () => Promise.resolve(latest), scenario)), connect: seconds };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
    child.kill('SIGTERM');
  }
}

/**
 * The platform with device identity, as shipped: the bench provisions DEVICES devices over REST
 * (one call, generated secrets), then each device connects with its own credentials (user name =
 * client id = thing id) and publishes on its own connection. On its embedded broker the devices
 * log in with the secrets the platform handed out; with `mosquitto` (the compose stack's
 * configuration) they log in with the passwords that broker holds, and the platform with its user.
 */
async function platformEach(
  dbUrl: string,
  scenario: Scenario,
  mosquitto?: SecuredMosquitto,
): Promise<EachResult & { provision: number }> {
  const app = await startPlatform(
    dbUrl,
    mosquitto ? { MQTT_URL: mosquitto.platformUrl, MQTT_SHARE_GROUP: mosquitto.platformUser.username } : {},
  );
  const db = new pg.Client({ connectionString: dbUrl });
  let clients: MqttClient[] = [];
  try {
    await db.connect();
    const t0 = performance.now();
    const secrets = await provision(app.base, thingIds);
    const provisioned = (performance.now() - t0) / 1000;
    const connected = await connectEach(
      mosquitto?.url ?? app.mqttUrl,
      (d) => ({
        clientId: thingIds[d],
        username: thingIds[d],
        password: mosquitto ? mosquitto.passwordOf(thingIds[d]) : secrets.get(thingIds[d]),
      }),
      thingIds,
    );
    clients = connected.clients;
    return {
      ...(await run(clients, journalProgress(db), scenario)),
      connect: connected.seconds,
      provision: provisioned,
    };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
    // Stopped before its database is dropped.
    await app.stop();
    await db.end().catch(() => undefined);
  }
}

/** BENCH_SCENARIOS: a comma-separated choice of capacity, latency, authenticated, forecasting (default: all). */
const chosen = process.env.BENCH_SCENARIOS?.split(',').map((n) => n.trim());
const picked = (name: string) => !chosen || chosen.includes(name);

console.log(`machine: ${machine()}`);
for (const scenario of SCENARIOS.filter((sc) => picked(sc.name))) {
  // A broker and a database of their own per scenario: nothing carries over.
  const broker = await startMosquitto();
  const database = await benchDatabase();
  try {
    console.log(
      `\n${scenario.name}${scenario.rate ? ` at ${scenario.rate} readings/s` : ''}: ${DEVICES} devices over ${CONNECTIONS} connections, ${scenario.messages} QoS 1 readings (2 properties each), window ${scenario.window}`,
    );
    const raw = await baseline(broker.url, scenario);
    console.log(`raw mqtt.js subscriber  ${fmt(raw)}`);
    const ours = await platform(broker.url, database.url, scenario);
    console.log(`platform (twin+history) ${fmt(ours)}`);
    console.log(`ratio platform/raw: ${(ours.rate / raw.rate).toFixed(2)} (goal ≥ 0.5)`);
    if (scenario.rate) {
      const met = ours.p99 < 250 ? 'met' : 'MISSED';
      console.log(
        `platform p99 at ${scenario.rate} readings/s: ${ours.p99.toFixed(0)} ms (goal < 250 ms: ${met})`,
      );
    }
  } finally {
    broker.stop();
    await database.close();
  }
}

if (picked('authenticated') && !process.env.BENCH_WINDOW && !process.env.BENCH_MESSAGES) {
  const scenario: Scenario = {
    name: 'authenticated',
    window: 100_000,
    messages: Number(process.env.BENCH_AUTH_MESSAGES ?? 300_000),
  };
  console.log(
    `\n${scenario.name}: ${DEVICES} devices, each on its own connection, ${scenario.messages} QoS 1 readings, window ${scenario.window}`,
  );
  const broker = await startMosquitto();
  const database = await benchDatabase();
  try {
    const raw = await baselineEach(
      { subscriberUrl: broker.url, deviceUrl: broker.url },
      (d) => ({ clientId: `bench-dev-${d}-${process.pid}` }),
      scenario,
    );
    console.log(`raw mqtt.js subscriber on Mosquitto, anonymous devices  ${fmt(raw)}`);
    console.log(`  connecting ${DEVICES} anonymous devices to Mosquitto: ${raw.connect.toFixed(2)} s`);
    const ours = await platformEach(database.url, scenario);
    console.log(`platform, embedded broker, authenticated devices  ${fmt(ours)}`);
    console.log(
      `  provisioning ${DEVICES} devices (one REST call each 1,000): ${ours.provision.toFixed(2)} s`,
    );
    console.log(
      `  connecting ${DEVICES} authenticated devices: ${ours.connect.toFixed(2)} s (goal < 10 s for 1,000)`,
    );
    console.log(`ratio platform/raw: ${(ours.rate / raw.rate).toFixed(2)} (goal ≥ 0.5)`);
  } finally {
    broker.stop();
    await database.close();
  }

  // The same on Mosquitto configured as the compose stack's: every client authenticated.
  const secured = await startSecuredMosquitto(thingIds, await freePort());
  const database2 = await benchDatabase();
  try {
    const device = (d: number): IClientOptions => ({
      clientId: thingIds[d],
      username: thingIds[d],
      password: secured.passwordOf(thingIds[d]),
    });
    const raw = await baselineEach(
      {
        subscriberUrl: secured.platformUrl,
        filter: `$share/${secured.platformUser.username}/things/#`,
        deviceUrl: secured.url,
      },
      device,
      scenario,
    );
    console.log(`raw mqtt.js subscriber on Mosquitto (deploy/mosquitto), authenticated devices  ${fmt(raw)}`);
    console.log(`  connecting ${DEVICES} authenticated devices to Mosquitto: ${raw.connect.toFixed(2)} s`);
    const ours = await platformEach(database2.url, scenario, secured);
    console.log(`platform on that Mosquitto, authenticated devices  ${fmt(ours)}`);
    console.log(
      `  connecting ${DEVICES} authenticated devices: ${ours.connect.toFixed(2)} s (goal < 10 s for 1,000)`,
    );
    console.log(`ratio platform/raw: ${(ours.rate / raw.rate).toFixed(2)} (goal ≥ 0.5)`);
  } finally {
    secured.stop();
    await database2.close();
  }
}

/**
 * The forecasting scenario: FC_HOMES homes (things with features/energy/properties/power),
 * provisioned as devices and each publishing on its own authenticated connection to the embedded
 * broker. Set-up, not measured: FC_DAYS days of 15-min readings per home (timestamped in the past)
 * through MQTT, then each home's model trained over REST, in one database; that database is then
 * copied (CREATE DATABASE … TEMPLATE) so both measured runs start from the same state. Measured:
 * the same readings (timestamped now) into a fresh platform with FORECAST_ENABLED=false, then with
 * FORECAST_ENABLED=true (FORECAST_TICK_MS=BENCH_FORECAST_TICK_MS, 5000 by default where the shipped default is 60 s, so the MLOps loop runs during the window: drift
 * checks for the homes readings arrive for, and a fresh process's first forecast of every home,
 * inference in the worker and the `forecast` feature written through the twin write path). The
 * bare subscriber on Mosquitto, one anonymous connection per home, is the baseline.
 */
const FC_HOMES = Number(process.env.BENCH_FORECAST_HOMES ?? 50);
const FC_DAYS = Number(process.env.BENCH_FORECAST_DAYS ?? 5);
const FC_STEP_MS = 15 * 60_000;
/** The MLOps loop's period in the measured runs: short, so it runs many times in the window. */
const FC_TICK_MS = Number(process.env.BENCH_FORECAST_TICK_MS ?? 5000);
const homeIds = Array.from({ length: FC_HOMES }, (_, d) => `bench.ingest:home-${d}`);

/** A home's power in W at a time: a daily shape of its own and deterministic noise. */
function homePower(d: number, ms: number, k: number): number {
  const hour = (ms / 3_600_000) % 24;
  const base = 300 + 20 * (d % 10);
  const evening = 900 * Math.exp(-((hour - 19) ** 2) / 6);
  const morning = 500 * Math.exp(-((hour - 7.5) ** 2) / 2);
  const noise = ((Math.sin(d * 12.9898 + k * 78.233) * 43758.5453) % 1) * 60;
  return Math.round(base + evening + morning + noise);
}

const forecastWorkload: Workload = {
  devices: FC_HOMES,
  thing: (d) => homeIds[d],
  body: (d, seq) =>
    JSON.stringify({ seq, features: { energy: { power: homePower(d, Date.now(), seq), seq } } }),
};

/** Provisions the homes, sends their history and trains their models; returns their secrets. */
async function seedHomes(
  dbUrl: string,
): Promise<{ secrets: Map<string, string>; active: number; seconds: number }> {
  const t0 = performance.now();
  // The scheduler kept quiet: the bench trains each home itself.
  const app = await startPlatform(dbUrl, { FORECAST_ENABLED: 'true', FORECAST_TICK_MS: '3600000' });
  let clients: MqttClient[] = [];
  try {
    const secrets = await provision(app.base, homeIds);
    clients = (
      await connectEach(
        app.mqttUrl,
        (d) => ({ clientId: homeIds[d], username: homeIds[d], password: secrets.get(homeIds[d]) }),
        homeIds,
      )
    ).clients;
    const end = Math.floor(Date.now() / FC_STEP_MS) * FC_STEP_MS;
    const start = end - FC_DAYS * 86_400_000;
    // The embedded broker acknowledges a QoS 1 reading once it is committed.
    await Promise.all(
      clients.map(async (c, d) => {
        const batch: Promise<unknown>[] = [];
        for (let ts = start, k = 0; ts < end; ts += FC_STEP_MS, k++) {
          const body = JSON.stringify({ ts, features: { energy: { power: homePower(d, ts, k) } } });
          batch.push(c.publishAsync(`things/${homeIds[d]}/telemetry`, body, { qos: 1 }));
          if (batch.length >= 20) await Promise.all(batch.splice(0));
        }
        await Promise.all(batch);
      }),
    );
    let active = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        while (next < homeIds.length) {
          const thingId = homeIds[next++];
          const r = await fetch(`${app.base}/api/2/forecasting/models/train`, {
            method: 'POST',
            headers: { ...benchAuthHeaders(), 'content-type': 'application/json' },
            body: JSON.stringify({ thingId }),
          });
          if (!r.ok) throw new Error(`training ${thingId}: ${r.status} ${await r.text()}`);
          if (((await r.json()) as { promoted: boolean }).promoted) active++;
        }
      }),
    );
    return { secrets, active, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
    await app.stop();
  }
}

/** A copy of a database (no one may be connected to it), on the same server. */
async function copyDatabase(fromUrl: string): Promise<{ url: string; close: () => Promise<void> }> {
  const from = new URL(fromUrl);
  const name = `${from.pathname.slice(1)}_${Math.random().toString(16).slice(2, 8)}`;
  const admin = new URL(fromUrl);
  admin.pathname = '/postgres';
  const q = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin.toString() });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await q(`CREATE DATABASE ${name} TEMPLATE ${from.pathname.slice(1)}`);
  const url = new URL(fromUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), close: () => q(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function forecastingRun(
  dbUrl: string,
  secrets: Map<string, string>,
  scenario: Scenario,
  enabled: boolean,
): Promise<Result & { models: number; runs: number }> {
  const app = await startPlatform(dbUrl, {
    FORECAST_ENABLED: String(enabled),
    FORECAST_TICK_MS: String(FC_TICK_MS),
  });
  const db = new pg.Client({ connectionString: dbUrl });
  let clients: MqttClient[] = [];
  try {
    await db.connect();
    const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0].n);
    const runsBefore = await count('SELECT count(*) AS n FROM forecast_runs');
    clients = (
      await connectEach(
        app.mqttUrl,
        (d) => ({ clientId: homeIds[d], username: homeIds[d], password: secrets.get(homeIds[d]) }),
        homeIds,
      )
    ).clients;
    const result = await run(
      clients,
      journalProgress(db, 'bench.ingest:home-', 'energy'),
      scenario,
      forecastWorkload,
    );
    return {
      ...result,
      models: await count(`SELECT count(*) AS n FROM forecast_models WHERE status = 'active'`),
      runs: (await count('SELECT count(*) AS n FROM forecast_runs')) - runsBefore,
    };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
    await app.stop();
    await db.end().catch(() => undefined);
  }
}

if (picked('forecasting') && !process.env.BENCH_WINDOW && !process.env.BENCH_MESSAGES) {
  const scenario: Scenario = {
    name: 'forecasting',
    window: 100_000,
    messages: Number(process.env.BENCH_FORECAST_MESSAGES ?? 200_000),
  };
  const broker = await startMosquitto();
  const seeded = await benchDatabase();
  const copies: { url: string; close: () => Promise<void> }[] = [];
  try {
    console.log(
      `\n${scenario.name}: ${FC_HOMES} homes (energy/power), each an authenticated device on its own connection, ${FC_DAYS} days of 15-min history each, then ${scenario.messages} QoS 1 readings, window ${scenario.window}, FORECAST_TICK_MS ${FC_TICK_MS}`,
    );
    const seed = await seedHomes(seeded.url);
    console.log(
      `  set-up (not measured): ${FC_HOMES * FC_DAYS * 96} history readings and ${FC_HOMES} trainings over REST, ${seed.active} models active, ${seed.seconds.toFixed(1)} s`,
    );
    copies.push(await copyDatabase(seeded.url), await copyDatabase(seeded.url));
    const child = fork(here('./ingest-raw-subscriber.js'), [broker.url], { stdio: 'inherit' });
    let latest: Record<string, number> = {};
    await new Promise<void>((ok) =>
      child.on('message', (m: { newest?: Record<string, number> }) => {
        if (m.newest) latest = m.newest;
        else ok();
      }),
    );
    const anon = await connectEach(
      broker.url,
      (d) => ({ clientId: `bench-home-${d}-${process.pid}` }),
      homeIds,
    );
    let raw: Result;
    try {
      raw = await run(anon.clients, () => Promise.resolve(latest), scenario, forecastWorkload);
    } finally {
      await Promise.all(anon.clients.map((c) => c.endAsync()));
      child.kill('SIGTERM');
    }
    console.log(`raw mqtt.js subscriber on Mosquitto, anonymous devices  ${fmt(raw)}`);
    const off = await forecastingRun(copies[0].url, seed.secrets, scenario, false);
    console.log(`platform, FORECAST_ENABLED=false  ${fmt(off)}`);
    const on = await forecastingRun(copies[1].url, seed.secrets, scenario, true);
    console.log(`platform, FORECAST_ENABLED=true   ${fmt(on)}`);
    console.log(
      `  with forecasting on: ${on.models} active models, ${on.runs} forecasts published during the run`,
    );
    console.log(
      `ratio on/off: ${(on.rate / off.rate).toFixed(2)} (goal ≥ 0.9); platform/raw: off ${(off.rate / raw.rate).toFixed(2)}, on ${(on.rate / raw.rate).toFixed(2)}`,
    );
  } finally {
    broker.stop();
    for (const c of copies) await c.close();
    await seeded.close();
  }
}
