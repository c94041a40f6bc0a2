import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IClientOptions, MqttClient } from 'mqtt';
import request from 'supertest';
import { parseDesired } from '../../simulators/contract.js';
import { IngestStats } from '../../src/ingest/ingest-stats.js';
import { PresenceSweeper } from '../../src/ingest/presence.sweeper.js';
import { authHeaders } from '../support/auth.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import { publish, startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';

const ns = uniqueNamespace('presence');

/** Provisioned over REST, logged in as itself (user name = client id = thing id, its secret). */
async function connectDevice(t: IngestTestApp, id: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const secrets = await provisionDevices(t.baseUrl, [id]);
  return connectAs(t.brokerUrl, id, secrets.get(id)!, opts);
}

async function connectionStatus(t: IngestTestApp, id: string) {
  const res = await request(t.baseUrl)
    .get(`/api/2/things/${id}/features/ConnectionStatus/properties`)
    .set(authHeaders());
  return res.status === 200 ? res.body : undefined;
}

describe('desired state and Last Will (no inactivity timeout)', () => {
  let t: IngestTestApp;
  beforeAll(async () => {
    t = await startIngestApp({ DEVICE_INACTIVITY_TIMEOUT: '0' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('desired → device → reported: the device gets desired properties and reports them back', async () => {
    const id = `${ns}:lamp`;
    await request(t.baseUrl)
      .put(`/api/2/things/${id}`)
      .set(authHeaders())
      .send({ features: { lamp: { properties: { on: false } } } })
      .expect(201);
    // A simulated lamp: applies whatever desired state arrives and reports it as telemetry.
    const lamp = await connectDevice(t, id);
    const applied: unknown[] = [];
    lamp.on('message', (_topic, payload) => {
      const desired = parseDesired(payload);
      if (!desired?.lamp) return;
      applied.push(desired.lamp);
      void publish(lamp, `things/${id}/telemetry`, { ts: Date.now(), features: { lamp: desired.lamp } });
    });
    await lamp.subscribeAsync(`things/${id}/desired`, { qos: 1 });
    await request(t.baseUrl)
      .put(`/api/2/things/${id}/features/lamp/desiredProperties`)
      .set(authHeaders())
      .send({ on: true, level: 70 })
      .expect(201);
    await waitFor('the reported state', async () => {
      const res = await request(t.baseUrl)
        .get(`/api/2/things/${id}/features/lamp/properties`)
        .set(authHeaders());
      return res.body.on === true && res.body.level === 70 ? true : undefined;
    });
    // A change by a sub-path, and a merge of the thing, publish the full desired state again.
    await request(t.baseUrl)
      .put(`/api/2/things/${id}/features/lamp/desiredProperties/level`)
      .set(authHeaders())
      .set('Content-Type', 'application/json')
      .send('30')
      .expect(204);
    await waitFor('level 30', async () => {
      const res = await request(t.baseUrl)
        .get(`/api/2/things/${id}/features/lamp/properties/level`)
        .set(authHeaders());
      return res.body === 30 ? true : undefined;
    });
    expect(applied.at(-1)).toEqual({ on: true, level: 30 });
    await lamp.endAsync();

    // Retained: a device that connects later gets the current desired state at once.
    const late = await connectDevice(t, id);
    const got = new Promise<unknown>((ok) => late.on('message', (_t, p) => ok(parseDesired(p))));
    await late.subscribeAsync(`things/${id}/desired`, { qos: 1 });
    expect(await got).toEqual({ lamp: { on: true, level: 30 } });
    await late.endAsync();
  });

  it('online, then offline through the Last Will when the connection dies', async () => {
    const id = `${ns}:will`;
    const status = `things/${id}/status`;
    const device = await connectDevice(t, id, {
      keepalive: 1,
      will: { topic: status, payload: Buffer.from('offline'), qos: 1, retain: false },
    });
    await publish(device, status, 'online');
    const online = await waitFor('online', async () => {
      const s = await connectionStatus(t, id);
      return s?.status === 'online' ? s : undefined;
    });
    expect(online.readyUntil).toBe('9999-12-31T23:59:59.999Z');
    // Gone without DISCONNECT: the broker publishes the Will.
    device.stream.destroy();
    await device.endAsync(true);
    const offline = await waitFor('offline', async () => {
      const s = await connectionStatus(t, id);
      return s?.status === 'offline' ? s : undefined;
    });
    expect(Date.parse(offline.readyUntil)).toBeGreaterThanOrEqual(Date.parse(offline.readySince));
  });

  it('a stale status never shows a device online', async () => {
    const id = `${ns}:stale`;
    const status = `things/${id}/status`;
    const device = await connectDevice(t, id);
    const now = Date.now();
    await publish(device, status, { status: 'offline', ts: now - 1000 });
    await waitFor('offline', async () => (await connectionStatus(t, id))?.status === 'offline');
    await publish(device, status, { status: 'online', ts: now - 5000 });
    await publish(device, `things/${id}/telemetry`, { ts: now - 4000, features: { f: { v: 1 } } });
    await waitFor('the old reading', async () => {
      const res = await request(t.baseUrl)
        .get(`/api/2/things/${id}/features/f/properties/v`)
        .set(authHeaders());
      return res.status === 200 ? true : undefined;
    });
    expect((await connectionStatus(t, id))?.status).toBe('offline');
    // A fresh reading shows it online again.
    await publish(device, `things/${id}/telemetry`, { ts: Date.now(), features: { f: { v: 2 } } });
    await waitFor('online', async () => (await connectionStatus(t, id))?.status === 'online');
    await device.endAsync();
  });
});

describe('inactivity timeout (DEVICE_INACTIVITY_TIMEOUT=1)', () => {
  let t: IngestTestApp;
  beforeAll(async () => {
    t = await startIngestApp({ DEVICE_INACTIVITY_TIMEOUT: '1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a silent device goes offline, and online again with its next message', async () => {
    const id = `${ns}:quiet`;
    const device = await connectDevice(t, id);
    await publish(device, `things/${id}/telemetry`, { features: { f: { v: 1 } } });
    await waitFor('online', async () => (await connectionStatus(t, id))?.status === 'online');
    await waitFor(
      'offline after the timeout',
      async () => (await connectionStatus(t, id))?.status === 'offline',
    );
    expect(t.app.get(IngestStats).devicesMarkedOffline).toBeGreaterThanOrEqual(1);
    await publish(device, `things/${id}/telemetry`, { features: { f: { v: 2 } } });
    await waitFor('online again', async () => (await connectionStatus(t, id))?.status === 'online');
    await device.endAsync();
  });

  it('works from the presence table, so devices seen before a restart are swept too', async () => {
    const id = `${ns}:before-restart`;
    await request(t.baseUrl)
      .put(`/api/2/things/${id}`)
      .set(authHeaders())
      .send({ features: { ConnectionStatus: { properties: { status: 'online' } } } })
      .expect(201);
    // As a previous run of the app left it: online, last seen a minute ago, unknown to this process.
    const minuteAgo = new Date(Date.now() - 60_000).toISOString();
    await t.db.query(`INSERT INTO ingest_presence VALUES ($1, $2, 'online', $2)`, [id, minuteAgo]);
    await t.app.get(PresenceSweeper).sweep();
    await waitFor('offline', async () => (await connectionStatus(t, id))?.status === 'offline');
  });
});
