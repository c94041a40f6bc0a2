import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { inheritedEnvWithoutAuth, withTestAuth } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';
import { dropSession, OwnMosquitto, uniqueNamespace, waitFor } from '../support/mqtt.js';

/**
 * The app is SIGKILLed in the middle of 20,000 QoS 1 readings and started again. It runs as a
 * child process (the built app, as production runs it) against a Mosquitto of the test's own:
 * its persistent session keeps what the app had received but not yet acknowledged, and
 * queues, without the packaged default's 1,000-message cap, what arrives while it is down.
 */
const DEVICES = 4;
const PER_DEVICE = 5000;
const TOTAL = DEVICES * PER_DEVICE;
const ns = uniqueNamespace('crash');
const CLIENT_ID = `${ns}-ingest`;
const MAIN = 'dist/src/main.js';

let broker: OwnMosquitto;
let database: { url: string; drop: () => Promise<void> };
let db: pg.Client;
let app: ChildProcess | undefined;
let output = '';

function startApp(): ChildProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...inheritedEnvWithoutAuth(),
      ...withTestAuth(),
      DATABASE_URL: database.url,
      MQTT_URL: broker.url,
      MQTT_CLIENT_ID: CLIENT_ID,
      PORT: '0',
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
    `SELECT count(*)::int AS n FROM telemetry_readings WHERE feature_id = 'meter'`,
  );
  return rows[0].n;
}

beforeAll(async () => {
  // The child runs the compiled app, as `npm start` does.
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
  if (!existsSync(MAIN)) throw new Error(`${MAIN} was not built`);
  broker = await OwnMosquitto.start();
  database = await createTestDatabase();
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
}, 180_000);

afterAll(async () => {
  await kill(app);
  await db?.end();
  await database?.drop();
  await broker?.destroy();
});

async function device(n: number): Promise<MqttClient> {
  return mqtt.connectAsync(broker.url, { clientId: `${ns}-dev${n}`, clean: false, reconnectPeriod: 200 });
}

/** Publishes this device's readings at QoS 1, 100 at a time, each batch awaiting its PUBACKs. */
async function publishAll(client: MqttClient, n: number): Promise<void> {
  const start = Date.now() - 3_600_000;
  for (let from = 0; from < PER_DEVICE; from += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, k) => {
        const seq = from + k;
        const body = JSON.stringify({ ts: start + seq, seq, features: { meter: { power: seq, device: n } } });
        return client.publishAsync(`things/${ns}:meter-${n}/telemetry`, body, { qos: 1 });
      }),
    );
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

describe('SIGKILL in the middle of 20,000 readings', () => {
  it('after a restart every reading is stored exactly once and the twins are right', async () => {
    app = startApp();
    const clients = await Promise.all(Array.from({ length: DEVICES }, (_, n) => device(n)));
    // The app's session subscribes when it first starts; until then the broker has no one to queue for.
    await waitFor(
      'the app to subscribe',
      async () => {
        await clients[0].publishAsync(`things/${ns}:probe/telemetry`, '{"features":{"probe":{"up":true}}}', {
          qos: 1,
        });
        const { rows } = await db.query(`SELECT 1 FROM telemetry_readings WHERE thing_id = $1 LIMIT 1`, [
          `${ns}:probe`,
        ]);
        return rows.length > 0;
      },
      60_000,
    );
    const publishing = Promise.all(clients.map((c, n) => publishAll(c, n)));
    try {
      await waitFor(
        'the app to store some of them',
        async () => ((await stored()) >= TOTAL / 8 ? true : undefined),
        60_000,
      );
      const atKill = await stored();
      output += `\n=== KILL at ${atKill}\n`;
      await kill(app);
      expect(atKill).toBeLessThan(TOTAL * 2);
      app = startApp();
      await publishing;
      await waitFor(
        `all ${TOTAL} readings (leaves: ${TOTAL * 2})`,
        async () => ((await stored()) === TOTAL * 2 ? true : undefined),
        120_000,
      );
    } catch (err) {
      const { rows } = await db.query(
        `SELECT thing_id, count(*)::int AS n, max(seq)::int AS last FROM telemetry_readings GROUP BY 1 ORDER BY 1`,
      );
      throw new Error(
        `${(err as Error).message}\nstored: ${JSON.stringify(rows)}\n--- app output ---\n${output.slice(-4000)}`,
      );
    } finally {
      await Promise.all(clients.map((c) => c.endAsync()));
    }
    const { rows: keys } = await db.query(
      `SELECT count(DISTINCT (thing_id, path, seq))::int AS n FROM telemetry_readings WHERE feature_id = 'meter'`,
    );
    expect(keys[0].n).toBe(TOTAL * 2);
    const { rows: twins } = await db.query(
      `SELECT thing_id, doc, revision, (SELECT count(*) FROM journal j WHERE j.thing_id = t.thing_id AND j.entity = 'thing')::int AS changes
       FROM things t WHERE thing_id <> $1 ORDER BY thing_id`,
      [`${ns}:probe`],
    );
    expect(twins).toHaveLength(DEVICES);
    for (const [n, t] of twins.entries()) {
      expect(t.doc.features.meter.properties).toEqual({ power: PER_DEVICE - 1, device: n });
      expect(Number(t.revision)).toBe(t.changes);
    }
    await kill(app);
    await dropSession(broker.url, CLIENT_ID);
  }, 300_000);
});
