import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { benchDatabase, machine, provision, startMosquitto, startPlatform } from './support.js';

/**
 * `npm run bench:connect`: a fleet reconnecting at once (after a restart of the broker or of the
 * network): BENCH_DEVICES (default 2000,6000,10000) provisioned devices open their connections
 * all together to the platform's embedded broker, each signing in with its own secret, against the
 * same client code connecting as many anonymous clients to a Mosquitto of the bench's own in the
 * same run. Prints how many got their CONNACK and when (BENCH_CONNECT_SECONDS, 120 by default);
 * asserts nothing.
 */
const SIZES = (process.env.BENCH_DEVICES ?? '2000,6000,10000').split(',').map(Number);
const DEADLINE_S = Number(process.env.BENCH_CONNECT_SECONDS ?? 120);

interface Storm {
  connected: number;
  /** Seconds until half, 99 % and all of them had their CONNACK (undefined: not reached). */
  half?: number;
  p99?: number;
  all?: number;
}

/** Opens every connection at once; mqtt.js retries a reset or refused one every 500 ms. */
async function storm(url: string, n: number, options: (d: number) => IClientOptions): Promise<Storm> {
  const t0 = performance.now();
  const times: number[] = [];
  const clients: MqttClient[] = [];
  await new Promise<void>((done) => {
    const deadline = setTimeout(done, DEADLINE_S * 1000);
    for (let d = 0; d < n; d++) {
      const c = mqtt.connect(url, { reconnectPeriod: 500, connectTimeout: 30_000, ...options(d) });
      c.on('error', () => undefined);
      c.once('connect', () => {
        times.push((performance.now() - t0) / 1000);
        if (times.length === n) {
          clearTimeout(deadline);
          done();
        }
      });
      clients.push(c);
    }
  });
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  const at = (share: number) =>
    times.length >= Math.ceil(n * share) ? times[Math.ceil(n * share) - 1] : undefined;
  return { connected: times.length, half: at(0.5), p99: at(0.99), all: at(1) };
}

const fmt = (s: Storm, n: number) => {
  const t = (v?: number) => (v === undefined ? '   —  ' : `${v.toFixed(1).padStart(5)} s`);
  return `${String(s.connected).padStart(6)} of ${n} connected; half ${t(s.half)}, 99 % ${t(s.p99)}, all ${t(s.all)}`;
};

console.log(`machine: ${machine()}`);
const db = await benchDatabase();
const broker = await startMosquitto();
const app = await startPlatform(db.url, {});
try {
  const ids = Array.from({ length: Math.max(...SIZES) }, (_, d) => `bench.connect:dev-${d}`);
  const t0 = performance.now();
  const secrets = await provision(app.base, ids);
  console.log(`${ids.length} devices provisioned in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const n of SIZES) {
    const ours = await storm(app.mqttUrl, n, (d) => ({
      clientId: ids[d],
      username: ids[d],
      password: secrets.get(ids[d]),
    }));
    const health = await fetch(`${app.base}/health`).then((r) => r.status);
    const bare = await storm(broker.url, n, (d) => ({ clientId: `bare-${d}-${process.pid}` }));
    console.log(`\n${n} devices at once:`);
    console.log(`platform (embedded broker, own secrets) ${fmt(ours, n)}; /health ${health}`);
    console.log(`bare Mosquitto (anonymous)             ${fmt(bare, n)}`);
  }
} finally {
  await app.stop();
  broker.stop();
  await db.close();
}
