import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { authContext } from '../src/auth/auth-context.js';
import { BASIC_SUBJECT_ISSUER } from '../src/auth/auth.service.js';
import { closeApp, createApp } from '../src/bootstrap.js';
import { loadConfig } from '../src/config/config.schema.js';
import { ConfigService } from '../src/config/config.service.js';
import { socketOf } from '../src/realtime/ws-socket.js';
import type { TwinCommand } from '../src/twins/twin.types.js';
import { TwinsService } from '../src/twins/twins.service.js';
import { BENCH_USER, benchAuthEnv } from './auth.js';

/**
 * A realtime benchmark target, run as a child process. `app`: the platform; changes are made in
 * this process through TwinsService.applyMany (one batch per 10 ms tick) and reach clients through
 * the journal feed and /ws/2. `raw`: the baseline, a bare `ws` server broadcasting messages of the
 * same shape and size to every client. Each change carries its creation time (`t`, epoch ms with
 * sub-ms precision), so clients measure change→client latency.
 */
const mode = process.argv[2];
const THINGS = Number(process.env.BENCH_THINGS ?? 1000);
const TICK_MS = 10;
const now = () => performance.timeOrigin + performance.now();

type Produce = (values: { thing: number; t: number; i: number }[]) => Promise<void>;

async function startApp(): Promise<{ port: number; produce: Produce }> {
  const config = new ConfigService(
    loadConfig({
      ...benchAuthEnv(),
      DATABASE_URL: process.env.DATABASE_URL,
      LOG_LEVEL: 'error',
      PORT: '0',
      WS_BUFFER_MAX_BYTES: process.env.BENCH_WS_BUFFER ?? String(64 * 1024 * 1024),
    }),
  );
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  // As npm start stops: the requests autocannon left in flight are answered first.
  process.once('SIGTERM', () => void closeApp(app).then(() => process.exit(0)));
  const twins = app.get(TwinsService);
  const id = (k: number) => `bench:rt-${k}`;
  // Created by the bench user, so the default policy of each thing lets it read the events.
  const auth = authContext([`${BASIC_SUBJECT_ISSUER}:${BENCH_USER.username}`]);
  await twins.applyMany(
    Array.from({ length: THINGS }, (_, k): TwinCommand => ({
      type: 'modify',
      thingId: id(k),
      path: [],
      value: { features: { m: { properties: { v: { t: 0, i: 0 } } } } },
      origin: 'rest',
      auth,
    })),
  );
  const produce: Produce = async (values) => {
    await twins.applyMany(
      values.map(({ thing, t, i }) => ({
        type: 'modify',
        thingId: id(thing),
        path: ['features', 'm', 'properties', 'v'],
        value: { t, i },
        origin: 'system',
      })),
    );
  };
  return { port: ((app.getHttpServer() as Server).address() as { port: number }).port, produce };
}

async function startRaw(): Promise<{ port: number; produce: Produce }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((ok) => wss.once('listening', ok));
  process.once('SIGTERM', () => wss.close(() => process.exit(0)));
  let seq = 0;
  const produce: Produce = (values) => {
    // The envelopes the platform sends for the same changes, each encoded once.
    const messages = values.map(({ thing, t, i }) =>
      Buffer.from(
        JSON.stringify({
          topic: `bench/rt-${thing}/things/twin/events/modified`,
          headers: {
            'correlation-id': randomUUID(),
            'event-id': String(++seq),
            'content-type': 'application/json',
            'response-required': false,
            'requested-acks': [],
          },
          path: '/features/m/properties/v',
          value: { t, i },
          revision: seq,
          timestamp: new Date().toISOString(),
        }),
      ),
    );
    // Per client, the tick's messages leave in one write, as the platform sends a batch.
    for (const client of wss.clients) {
      const socket = socketOf(client);
      socket?.cork();
      for (const data of messages) client.send(data, { binary: false });
      socket?.uncork();
    }
    return Promise.resolve();
  };
  return { port: (wss.address() as { port: number }).port, produce };
}

/** How long making each tick's batch took (the transaction, for the platform), and the largest batch. */
export interface WriteTimes {
  p50: number;
  p99: number;
  max: number;
  largestBatch: number;
}

/**
 * Changes at `rate` per second for `seconds`, one batch per tick; late ticks catch up. A change's
 * time starts before its batch is written, so a slow commit shows in its latency (and makes the
 * next batch larger).
 */
async function run(
  produce: Produce,
  rate: number,
  seconds: number,
): Promise<{ made: number; write: WriteTimes }> {
  const start = now();
  const end = start + seconds * 1000;
  let made = 0;
  const took: number[] = [];
  let largestBatch = 0;
  while (now() < end) {
    const due = Math.floor(((now() - start) / 1000) * rate) - made;
    if (due > 0) {
      const t = now();
      await produce(Array.from({ length: due }, (_, k) => ({ thing: (made + k) % THINGS, t, i: made + k })));
      took.push(now() - t);
      largestBatch = Math.max(largestBatch, due);
      made += due;
    }
    await new Promise((ok) => setTimeout(ok, TICK_MS));
  }
  took.sort((a, b) => a - b);
  const at = (q: number) => took[Math.min(took.length - 1, Math.floor(q * took.length))] ?? 0;
  return { made, write: { p50: at(0.5), p99: at(0.99), max: at(1), largestBatch } };
}

const target = mode === 'app' ? await startApp() : await startRaw();
let cpu = process.cpuUsage();
process.on('message', (m: { rate: number; seconds: number } | 'cpu') => {
  if (m === 'cpu') {
    // CPU time of this process since the run started: what the deliveries cost the server.
    const used = process.cpuUsage(cpu);
    process.send?.({ cpuMs: (used.user + used.system) / 1000 });
    return;
  }
  cpu = process.cpuUsage();
  run(target.produce, m.rate, m.seconds).then(
    (result) => process.send?.(result),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
process.send?.({ port: target.port });
