import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { basicAuthHeader, inheritedEnvWithoutAuth, withTestAuth } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';
import { connectDevice, freePort, uniqueNamespace, waitFor } from '../support/mqtt.js';

/**
 * The app with its embedded broker is SIGKILLed while 3 devices publish 6,000 QoS 1 readings
 * (persistent sessions, clean: false), then started again on the same port. The broker dies with
 * the process, so only what the devices were told was stored is safe there: the embedded broker
 * acknowledges a PUBLISH only after its reading committed, and the devices resend whatever was
 * not acknowledged when they reconnect. Every reading must be stored exactly once. The retained
 * desired state, which the broker lost, must be published again by the restarted app.
 */
const DEVICES = 3;
const PER_DEVICE = 2000;
const TOTAL = DEVICES * PER_DEVICE;
const ns = uniqueNamespace('crashemb');
const MAIN = 'dist/src/main.js';

let database: { url: string; drop: () => Promise<void> };
let db: pg.Client;
let app: ChildProcess | undefined;
let output = '';
let mqttPort: number;
let httpPort: number;

function startApp(): ChildProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...inheritedEnvWithoutAuth(),
      ...withTestAuth(),
      DATABASE_URL: database.url,
      MQTT_URL: '',
      MQTT_PORT: String(mqttPort),
      // Devices of this test connect without credentials (see connectDevice in ../support/mqtt.ts).
      MQTT_ANONYMOUS: 'true',
      PORT: String(httpPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DEVICE_INACTIVITY_TIMEOUT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return child;
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((ok) => {
    child.once('exit', () => ok());
    child.kill('SIGKILL');
  });
}

async function stored(): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n FROM telemetry_readings WHERE feature_id = 'meter' AND path = 'power' AND thing_id LIKE $1`,
    [`${ns}:%`],
  );
  return rows[0].n;
}

const brokerUrl = () => `mqtt://127.0.0.1:${mqttPort}`;

beforeAll(async () => {
  // The child runs the compiled app, as `npm start` does.
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
  if (!existsSync(MAIN)) throw new Error(`${MAIN} was not built`);
  database = await createTestDatabase();
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  mqttPort = await freePort();
  httpPort = await freePort();
}, 180_000);

afterAll(async () => {
  await kill(app);
  await db?.end();
  await database?.drop();
});

/** Publishes this device's readings at QoS 1, 100 at a time, each hundred awaiting its PUBACKs. */
async function publishAll(client: MqttClient, n: number): Promise<void> {
  const start = Date.now() - 3_600_000;
  for (let from = 0; from < PER_DEVICE; from += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, k) => {
        const seq = from + k;
        const body = JSON.stringify({ ts: start + seq, seq, features: { meter: { power: seq } } });
        return client.publishAsync(`things/${ns}:meter-${n}/telemetry`, body, { qos: 1 });
      }),
    );
  }
}

async function setDesired(thingId: string, value: unknown): Promise<void> {
  const res = await fetch(
    `http://127.0.0.1:${httpPort}/api/2/things/${thingId}/features/meter/desiredProperties`,
    {
      method: 'PUT',
      headers: { authorization: basicAuthHeader(), 'content-type': 'application/json' },
      body: JSON.stringify(value),
    },
  );
  if (res.status >= 300) throw new Error(`PUT desiredProperties: ${res.status} ${await res.text()}`);
}

/** The retained desired state a newly subscribing device gets. */
async function retainedDesired(thingId: string): Promise<unknown> {
  const c = await connectDevice(brokerUrl(), { reconnectPeriod: 0 });
  try {
    const got = new Promise<unknown>((ok) =>
      c.on('message', (_t, payload) => ok(JSON.parse(payload.toString()))),
    );
    await c.subscribeAsync(`things/${thingId}/desired`, { qos: 1 });
    return await Promise.race([got, new Promise((ok) => setTimeout(() => ok(undefined), 1000))]);
  } finally {
    await c.endAsync();
  }
}

describe('SIGKILL of the app with its embedded broker in the middle of 6,000 readings', () => {
  it('every reading acknowledged or resent is stored exactly once; desired state comes back', async () => {
    app = startApp();
    const clients: MqttClient[] = [];
    try {
      await waitFor(
        'the embedded broker',
        async () => {
          clients.push(await connectDevice(brokerUrl(), { clientId: `${ns}-dev0`, clean: false }));
          return true;
        },
        60_000,
      );
      for (let n = 1; n < DEVICES; n++) {
        clients.push(await connectDevice(brokerUrl(), { clientId: `${ns}-dev${n}`, clean: false }));
      }
      // A thing with desired state, before the crash: the broker's retained copy dies with it.
      await clients[0].publishAsync(`things/${ns}:meter-0/telemetry`, '{"features":{"meter":{"up":1}}}', {
        qos: 1,
      });
      await waitFor(
        'the HTTP API',
        async () => {
          await setDesired(`${ns}:meter-0`, { target: 42 });
          return true;
        },
        30_000,
      );
      await waitFor('desired state on the broker', async () => {
        const d = (await retainedDesired(`${ns}:meter-0`)) as { features?: unknown } | undefined;
        return JSON.stringify(d) === JSON.stringify({ features: { meter: { target: 42 } } });
      });

      const publishing = Promise.all(clients.map((c, n) => publishAll(c, n)));
      await waitFor('some readings stored', async () => (await stored()) >= TOTAL / 6, 60_000);
      const atKill = await stored();
      output += `\n=== KILL at ${atKill}\n`;
      await kill(app);
      expect(atKill).toBeLessThan(TOTAL);
      app = startApp();
      // The devices reconnect by themselves and resend what was never acknowledged.
      await publishing;
      await waitFor(`all ${TOTAL} readings`, async () => (await stored()) === TOTAL, 60_000);

      const { rows: keys } = await db.query(
        `SELECT count(DISTINCT (thing_id, seq))::int AS n FROM telemetry_readings
         WHERE feature_id = 'meter' AND path = 'power' AND thing_id LIKE $1`,
        [`${ns}:%`],
      );
      expect(keys[0].n).toBe(TOTAL);
      // The restarted broker holds the desired state again, published from the twin.
      expect(await retainedDesired(`${ns}:meter-0`)).toEqual({ features: { meter: { target: 42 } } });
    } catch (err) {
      const { rows } = await db.query(
        `SELECT thing_id, count(*)::int AS n, max(seq)::int AS last FROM telemetry_readings GROUP BY 1 ORDER BY 1`,
      );
      throw new Error(
        `${(err as Error).message}\nstored: ${JSON.stringify(rows)}\n--- app output ---\n${output.slice(-4000)}`,
      );
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
    }
  }, 240_000);
});
