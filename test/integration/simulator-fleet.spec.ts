import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectAsync, type MqttClient } from 'mqtt';
import { createServer, Socket, type Server } from 'node:net';
import { Aedes } from 'aedes';
import {
  desiredTopic,
  runFleet,
  statusTopic,
  thingIdFor,
  type ProfileName,
  type Reading,
} from '../../simulators/index.js';

/**
 * runFleet against a real broker: Mosquitto at MQTT_URL or mqtt://127.0.0.1:1883. On a machine
 * without one (and MQTT_URL unset) an in-process Aedes broker stands in, so `npm test` still
 * runs on a fresh machine. A bare mqtt.js subscriber checks what arrived.
 */

const DEFAULT_URL = 'mqtt://127.0.0.1:1883';
let brokerUrl = process.env.MQTT_URL ?? DEFAULT_URL;
let local: { server: Server; broker: Aedes } | null = null;
let subscriber: MqttClient;
/** Every message the subscriber got, in arrival order. */
const received: { topic: string; payload: Buffer }[] = [];

beforeAll(async () => {
  if (!process.env.MQTT_URL && !(await reachable('127.0.0.1', 1883))) {
    const broker = await Aedes.createBroker();
    const server = createServer((socket) => broker.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    local = { server, broker };
    brokerUrl = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
    console.log(`[simulator-fleet] no broker on ${DEFAULT_URL}; using in-process Aedes at ${brokerUrl}`);
  }
  subscriber = await connectAsync(brokerUrl, { clean: true, clientId: `it-subscriber-${process.pid}` });
  subscriber.on('message', (topic, payload) => received.push({ topic, payload }));
  await subscriber.subscribeAsync(['things/+/telemetry', 'things/+/status'], { qos: 1 });
});

afterAll(async () => {
  await subscriber?.endAsync();
  if (local) {
    await new Promise<void>((resolve) => local?.broker.close(() => resolve()));
    await new Promise<void>((resolve) => local?.server.close(() => resolve()));
  }
});

/** A namespace no earlier run used, so retained messages of other runs do not interfere. */
const freshNamespace = (): string => `test.sim${Date.now()}x${Math.floor(Math.random() * 1e6)}`;

function idsOf(namespace: string, profile: ProfileName, devices: number): string[] {
  return Array.from({ length: devices }, (_, i) => thingIdFor(namespace, profile, i + 1));
}

const telemetryOf = (thingId: string): Reading[] =>
  received
    .filter((m) => m.topic === `things/${thingId}/telemetry`)
    .map((m) => JSON.parse(m.payload.toString()) as Reading);

const statusesOf = (thingId: string): string[] =>
  received.filter((m) => m.topic === statusTopic(thingId)).map((m) => m.payload.toString());

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the broker');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Removes the retained status and desired messages a test left on the broker. */
async function clearRetained(thingIds: string[]): Promise<void> {
  for (const id of thingIds) {
    for (const topic of [statusTopic(id), desiredTopic(id)]) {
      await subscriber.publishAsync(topic, '', { qos: 1, retain: true });
    }
  }
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

describe('runFleet against a broker', () => {
  it('sends 5 devices × 20 readings, reports exactly what arrived, and applies a retained desired state', async () => {
    const namespace = freshNamespace();
    const ids = idsOf(namespace, 'energy', 5);
    // Published before the fleet starts: device 1 gets it on subscribing, as from the platform.
    await subscriber.publishAsync(
      desiredTopic(ids[0]),
      JSON.stringify({ features: { hvac: { on: false, setpoint: 23 } } }),
      { qos: 1, retain: true },
    );

    const summary = await runFleet({
      broker: brokerUrl,
      profile: 'energy',
      devices: 5,
      rate: 20,
      count: 20,
      namespace,
      seed: 'integration',
      clean: true,
      record: true,
    });
    await until(() => ids.every((id) => telemetryOf(id).length >= 20 && statusesOf(id).at(-1) === 'offline'));

    expect(summary).toMatchObject({
      valid: 100,
      sent: 100,
      failed: 0,
      stoppedBy: 'count',
      desiredApplied: 1,
    });
    for (const id of ids) {
      const got = telemetryOf(id);
      expect(got.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(got.every((r, i) => i === 0 || r.ts > got[i - 1].ts)).toBe(true);
      // The library's record is exactly what the broker delivered.
      const recorded = summary.readings.filter((r) => r.thingId === id).sort((a, b) => a.seq - b.seq);
      expect(recorded.map(({ ts, seq, features }) => ({ ts, seq, features }))).toEqual(got);
      // Online on connect, offline on the graceful end (no Last Will then).
      expect(statusesOf(id)[0]).toBe('online');
      expect(statusesOf(id).at(-1)).toBe('offline');
    }

    // Device 1 switched its HVAC off and took the setpoint; from then on every reading says so.
    const first = telemetryOf(ids[0]);
    const applied = first.findIndex((r) => r.features.hvac.on === false);
    expect(applied).toBeGreaterThanOrEqual(0);
    expect(applied).toBeLessThan(10);
    for (const r of first.slice(applied)) {
      expect(r.features.hvac).toEqual({ on: false, setpoint: 23 });
      expect((r.features.energy.breakdown as Record<string, number>).hvac).toBe(0);
    }
    expect(telemetryOf(ids[1]).every((r) => r.features.hvac.on === true)).toBe(true);
    await clearRetained(ids);
  });

  it('fires the Last Will when a device drops its connection, then reconnects and carries on', async () => {
    const namespace = freshNamespace();
    const [id] = idsOf(namespace, 'machine', 1);
    const summary = await runFleet({
      broker: brokerUrl,
      profile: 'machine',
      devices: 1,
      rate: 10,
      count: 40,
      namespace,
      disconnectEverySeconds: 1,
      reconnectPeriodMs: 200,
      clean: true,
    });
    await until(
      () => statusesOf(id).at(-1) === 'offline' && new Set(telemetryOf(id).map((r) => r.seq)).size === 40,
    );

    expect(summary.disconnects).toBeGreaterThanOrEqual(1);
    expect(summary.reconnects).toBe(summary.disconnects);
    expect(summary.valid).toBe(40);
    // offline (the Last Will) followed by online (the reconnect) before the final offline.
    const statuses = statusesOf(id);
    expect(statuses.slice(0, -1).join(',')).toContain('offline,online');
    // QoS 1 may deliver a reading twice around a drop, but none is lost.
    expect(new Set(telemetryOf(id).map((r) => r.seq))).toEqual(
      new Set(Array.from({ length: 40 }, (_, i) => i + 1)),
    );
    await clearRetained([id]);
  });

  it('reports at once when a desired state arrives while running, and stops on an AbortSignal', async () => {
    const namespace = freshNamespace();
    const [id] = idsOf(namespace, 'climate', 1);
    const controller = new AbortController();
    const running = runFleet({
      broker: brokerUrl,
      profile: 'climate',
      devices: 1,
      // A tick every 100 s: the reading carrying the new setpoint can only be the immediate report.
      rate: 0.01,
      namespace,
      clean: true,
      signal: controller.signal,
    });
    await until(() => telemetryOf(id).length >= 1);
    await subscriber.publishAsync(
      desiredTopic(id),
      JSON.stringify({ features: { climate: { setpoint: 26 } } }),
      {
        qos: 1,
        retain: true,
      },
    );
    await until(() => telemetryOf(id).some((r) => r.features.climate.setpoint === 26));
    expect(telemetryOf(id).map((r) => r.seq)).toEqual([1, 2]);

    controller.abort();
    const summary = await running;
    expect(summary).toMatchObject({ stoppedBy: 'signal', valid: 2, desiredApplied: 1 });
    await clearRetained([id]);
  });

  it('reports every faulty message it sent, by kind, as the subscriber counts them', async () => {
    const namespace = freshNamespace();
    const first = 100_000 + Math.floor(Math.random() * 800_000);
    const byKind: Record<string, number> = {};
    const summary = await runFleet({
      broker: brokerUrl,
      profile: 'energy',
      devices: 3,
      first,
      rate: 50,
      count: 30,
      namespace,
      seed: 'faulty',
      clean: true,
      faults: { duplicate: 0.2, outOfOrder: 0.2, malformed: 0.2 },
      onMessage: (m) => {
        byKind[m.kind] = (byKind[m.kind] ?? 0) + 1;
      },
    });
    const ids = Array.from({ length: 3 }, (_, i) => thingIdFor(namespace, 'energy', first + i));
    // Bad-topic messages name `energy-<n>` without the namespace, or the namespace without a name.
    const ours = (topic: string): boolean =>
      ids.some(
        (id) => topic === `things/${id}/telemetry` || topic === `things/${id.split(':')[1]}/telemetry`,
      ) || topic === `things/${namespace}:/telemetry`;
    await until(() => received.filter((m) => ours(m.topic)).length >= summary.sent);

    expect(summary.valid).toBe(90);
    expect(summary.duplicates).toBeGreaterThan(0);
    expect(summary.outOfOrder).toBeGreaterThan(0);
    expect(summary.malformed).toBeGreaterThan(0);
    expect(byKind).toEqual({ reading: 90, duplicate: summary.duplicates, malformed: summary.malformed });
    expect(summary.sent).toBe(90 + summary.duplicates + summary.malformed);
    expect(received.filter((m) => ours(m.topic))).toHaveLength(summary.sent);
    await clearRetained(ids);
  });
});
