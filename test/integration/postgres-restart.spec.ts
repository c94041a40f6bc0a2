import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from '../../src/persistence/embedded-postgres.js';
import { authHeaders } from '../support/auth.js';
import { OwnMosquitto, uniqueNamespace, waitFor } from '../support/mqtt.js';
import { DittoSocket, startInstance, until, type Instance } from '../e2e/realtime.support.js';

/**
 * PostgreSQL goes away for a few seconds under load and comes back, the app is not restarted:
 * REST answers 503 meanwhile (Ditto's error JSON, Retry-After), the ingest acknowledges nothing
 * it could not commit and retries, WebSocket clients keep getting events afterwards, and every
 * reading is stored exactly once. The database is a cluster of the test's own, so stopping it
 * disturbs nothing else; the broker is a Mosquitto of its own that keeps unacknowledged messages.
 */
const READINGS = 600;
const ns = uniqueNamespace('pgrestart');
let dir: string;
let port: number;
let database: EmbeddedPostgresHandle;
let broker: OwnMosquitto;
let app: Instance;

async function startDatabase(): Promise<EmbeddedPostgresHandle> {
  return startEmbeddedPostgres({ dataDir: dir, port });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twin-pgrestart-'));
  // As root, embedded-postgres runs the server as a 'postgres' user, which must reach the directory.
  chmodSync(dir, 0o777);
  const first = await startEmbeddedPostgres({ dataDir: dir, port: 0 });
  port = Number(new URL(first.url).port);
  database = first;
  broker = await OwnMosquitto.start();
  app = await startInstance(database.url, {
    MQTT_URL: broker.url,
    MQTT_CLIENT_ID: `${ns}-ingest`,
    DEVICE_INACTIVITY_TIMEOUT: '0',
    LOG_LEVEL: 'fatal',
  });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await database?.stop();
  await broker?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function stored(): Promise<{ rows: number; distinct: number }> {
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  try {
    const { rows } = await db.query<{ rows: number; distinct: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT seq)::int AS distinct FROM telemetry_readings WHERE thing_id = $1`,
      [`${ns}:meter`],
    );
    return rows[0];
  } finally {
    await db.end();
  }
}

describe('PostgreSQL restarted under load', () => {
  it('answers 503 meanwhile and loses nothing, without restarting the app', async () => {
    const thing = `${app.baseUrl}/api/2/things/${ns}:twin`;
    const put = (value: unknown) =>
      fetch(`${thing}/attributes/v`, {
        method: 'PUT',
        headers: { ...authHeaders(), 'content-type': 'application/json' },
        body: JSON.stringify(value),
      });
    const created = await fetch(thing, {
      method: 'PUT',
      headers: { ...authHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: { v: 0 } }),
    });
    expect(created.status).toBe(201);
    const ws = await DittoSocket.open(app.wsUrl);
    await ws.control(`START-SEND-EVENTS?namespaces=${ns}`);

    const device: MqttClient = await mqtt.connectAsync(broker.url, {
      clientId: `${ns}-device`,
      clean: false,
      reconnectPeriod: 200,
    });
    const start = Date.now() - 3_600_000;
    const publishing = (async () => {
      for (let seq = 0; seq < READINGS; seq++) {
        const body = JSON.stringify({ ts: start + seq, seq, features: { meter: { power: seq } } });
        // Unawaited: QoS 1 messages stay in flight (and are resent) while nothing can commit.
        void device.publishAsync(`things/${ns}:meter/telemetry`, body, { qos: 1 }).catch(() => undefined);
        await new Promise((ok) => setTimeout(ok, 10));
      }
    })();

    await waitFor(
      'some readings to be stored',
      async () => ((await stored()).rows > 50 ? true : undefined),
      30_000,
    );
    await database.stop();
    const during = await fetch(thing, { headers: authHeaders() });
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('1');
    expect(((await during.json()) as { error: string }).error).toBe('gateway:service.unavailable');
    await new Promise((ok) => setTimeout(ok, 3000));
    database = await startDatabase();

    await publishing;
    await waitFor(
      'every reading to be stored',
      async () => ((await stored()).distinct === READINGS ? true : undefined),
      90_000,
    );
    expect(await stored()).toEqual({ rows: READINGS, distinct: READINGS });
    // The API and the event streams work again, on the same process.
    await until('REST to answer again', async () => (await put('after')).status === 204, 30_000);
    await until('the WebSocket client to get the change made after the restart', () =>
      ws.events.some((e) => e.value === 'after'),
    );
    await ws.close();
    await device.endAsync();
  }, 240_000);
});
