import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import pg from 'pg';
import { inheritedEnvWithoutAuth, withTestAuth } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';
import { provisionDevices } from '../support/devices.js';
import { freePort, uniqueNamespace, waitFor } from '../support/mqtt.js';

/**
 * Devices are not let in on the embedded broker before the ingest is ready to take their
 * messages. The app is SIGKILLed while 3 authenticated devices publish QoS 1 readings and started
 * again on the same ports; the devices reconnect as soon as the port is bound, and one more device
 * opens its TCP connection and sends its CONNECT the moment the port accepts, before the restarted
 * app is ready. That connection is held, its CONNECT unread, until the ingest is ready (the app
 * logs how many waited); then it is served: it gets its CONNACK and its reading is stored. Every
 * reading a device was told was stored (PUBACK) is there exactly once.
 */
const DEVICES = 3;
const PER_DEVICE = 1500;
const ns = uniqueNamespace('early');
const MAIN = 'dist/src/main.js';
const meters = Array.from({ length: DEVICES }, (_, n) => `${ns}:meter-${n}`);
const early = `${ns}:early`;

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
      PORT: String(httpPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
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

beforeAll(async () => {
  try {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
      stdio: 'pipe',
    });
  } catch (err) {
    // Type errors elsewhere in the tree still emit JavaScript; only a missing app is fatal.
    process.stderr.write(`tsc reported errors:\n${(err as { stdout?: Buffer }).stdout?.toString() ?? ''}\n`);
  }
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

/** Publishes readings at QoS 1, 50 at a time; returns the seqs whose PUBACK came. */
async function publishAll(client: MqttClient, thingId: string, acked: Set<number>): Promise<void> {
  const start = Date.now() - 3_600_000;
  for (let from = 0; from < PER_DEVICE; from += 50) {
    await Promise.all(
      Array.from({ length: 50 }, async (_, k) => {
        const seq = from + k;
        const body = JSON.stringify({ ts: start + seq, seq, features: { meter: { power: seq } } });
        await client.publishAsync(`things/${thingId}/telemetry`, body, { qos: 1 });
        acked.add(seq);
      }),
    );
  }
}

/**
 * Opens a TCP connection to the MQTT port as soon as it accepts one and sends a CONNECT at once;
 * resolves with the socket once the CONNACK arrives (return code 0 expected).
 */
async function connectEarly(secret: string): Promise<{ socket: Socket; returnCode: number }> {
  for (;;) {
    const socket = await new Promise<Socket | undefined>((ok) => {
      const s = tcpConnect(mqttPort, '127.0.0.1');
      s.once('connect', () => ok(s));
      s.once('error', () => ok(undefined));
    });
    if (!socket) {
      await new Promise((ok) => setTimeout(ok, 2));
      continue;
    }
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: early,
        username: early,
        password: Buffer.from(secret),
        keepalive: 0,
      }),
    );
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const connack = new Promise<number>((ok, fail) => {
      parser.on('packet', (p) => p.cmd === 'connack' && ok(p.returnCode ?? -1));
      socket.on('data', (d: Buffer) => parser.parse(d));
      socket.once('close', () => fail(new Error('closed before a CONNACK')));
    });
    return { socket, returnCode: await connack };
  }
}

describe('a restarted app with its embedded broker', () => {
  it('holds devices that connect before the ingest is ready, and loses nothing acknowledged', async () => {
    app = startApp();
    const clients: MqttClient[] = [];
    const acked = meters.map(() => new Set<number>());
    let held: Socket | undefined;
    try {
      const secrets = await waitFor(
        'the HTTP API',
        () => provisionDevices(`http://127.0.0.1:${httpPort}`, [...meters, early]),
        60_000,
      );
      for (const id of meters) {
        clients.push(
          await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
            clientId: id,
            username: id,
            password: secrets.get(id),
            clean: false,
            reconnectPeriod: 20,
          }),
        );
      }
      const publishing = Promise.all(clients.map((c, n) => publishAll(c, meters[n], acked[n])));
      await waitFor('some readings acknowledged', () => acked.every((a) => a.size >= PER_DEVICE / 5), 60_000);
      await kill(app);
      const ackedAtKill = acked.reduce((n, a) => n + a.size, 0);
      expect(ackedAtKill).toBeLessThan(DEVICES * PER_DEVICE);
      const cut = output.length;
      const probing = connectEarly(secrets.get(early)!);
      app = startApp();
      const probe = await probing;
      held = probe.socket;
      expect(probe.returnCode).toBe(0);
      // The restarted app let devices in only once its ingest was ready, and the probe was held.
      const accepted = /accepting devices on \S+ \((\d+) waited\)/.exec(output.slice(cut));
      expect(accepted).not.toBeNull();
      expect(Number(accepted![1])).toBeGreaterThanOrEqual(1);
      // The held device's reading, acknowledged after it was stored.
      const reading = mqttPacket.generate({
        cmd: 'publish',
        topic: `things/${early}/telemetry`,
        payload: JSON.stringify({ seq: 0, features: { meter: { power: 7 } } }),
        qos: 1,
        messageId: 1,
        retain: false,
        dup: false,
      });
      const puback = new Promise<void>((ok) => probe.socket.on('data', (d: Buffer) => d[0] === 0x40 && ok()));
      probe.socket.write(reading);
      await puback;
      const { rows: earlyRows } = await db.query(
        `SELECT value FROM telemetry_readings WHERE thing_id = $1 AND feature_id = 'meter' AND path = 'power'`,
        [early],
      );
      expect(earlyRows.map((r: { value: unknown }) => r.value)).toEqual([7]);

      await publishing;
      for (let n = 0; n < DEVICES; n++) {
        const { rows } = await db.query(
          `SELECT seq::int AS seq, count(*)::int AS n FROM telemetry_readings
           WHERE thing_id = $1 AND feature_id = 'meter' AND path = 'power' GROUP BY seq`,
          [meters[n]],
        );
        const counts = new Map(rows.map((r: { seq: number; n: number }) => [r.seq, r.n]));
        const missing = [...acked[n]].filter((seq) => counts.get(seq) !== 1);
        expect(missing).toEqual([]);
        expect(acked[n].size).toBe(PER_DEVICE);
      }
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- app output ---\n${output.slice(-4000)}`);
    } finally {
      held?.destroy();
      await Promise.all(clients.map((c) => c.endAsync(true)));
    }
  }, 240_000);
});
