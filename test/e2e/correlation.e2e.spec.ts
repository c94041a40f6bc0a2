import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { authHeaders } from '../support/auth.js';
import { DeviceFleet } from '../support/devices.js';
import { publish, startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';
import { DittoSocket, type DittoMessage } from './realtime.support.js';

/**
 * One correlation id follows a change: the request log line, the response header, the journal
 * entry and the WebSocket event all carry the id the client sent, or the one the platform made
 * up for it. A Ditto protocol command a device sends over MQTT keeps its own.
 */
const ns = uniqueNamespace('corr');
const written: string[] = [];
let t: IngestTestApp;
let fleet: DeviceFleet;
let socket: DittoSocket;

beforeAll(async () => {
  t = await startIngestApp(
    { LOG_LEVEL: 'info' },
    { logDestination: { write: (c: string) => void written.push(c) } },
  );
  fleet = new DeviceFleet(t.baseUrl, t.brokerUrl);
  socket = await DittoSocket.open(`${t.baseUrl.replace('http', 'ws')}/ws/2`);
  await socket.control(`START-SEND-EVENTS?namespaces=${ns}`);
});
afterAll(async () => {
  await socket?.close();
  await fleet?.end();
  await t?.close();
});

interface RequestLine {
  context?: string;
  method?: string;
  route?: string;
  status?: number;
  durationMs?: number;
  correlationId?: string;
}

function requestLine(correlationId: string): RequestLine | undefined {
  return written
    .flatMap((chunk) => chunk.split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as RequestLine)
    .find((l) => l.context === 'http' && l.correlationId === correlationId);
}

async function journalIds(thingId: string): Promise<(string | null)[]> {
  const { rows } = await t.db.query<{ correlation_id: string | null }>(
    `SELECT correlation_id FROM journal WHERE entity = 'thing' AND thing_id = $1 ORDER BY revision`,
    [thingId],
  );
  return rows.map((r) => r.correlation_id);
}

function eventsOf(thingId: string): DittoMessage[] {
  const [namespace, name] = thingId.split(':');
  return socket.events.filter((e) => e.topic.startsWith(`${namespace}/${name}/`));
}

describe('correlation id', () => {
  it("REST: the client's id is in the response, the request line, the journal and the event", async () => {
    const thingId = `${ns}:given`;
    const res = await request(t.baseUrl)
      .put(`/api/2/things/${thingId}`)
      .set(authHeaders())
      .set('correlation-id', 'corr-given-1')
      .send({ attributes: { a: 1 } })
      .expect(201);
    expect(res.headers['correlation-id']).toBe('corr-given-1');
    expect(await journalIds(thingId)).toEqual(['corr-given-1']);
    await waitFor('the event', () => eventsOf(thingId).length === 1);
    expect(eventsOf(thingId)[0].headers['correlation-id']).toBe('corr-given-1');
    const line = await waitFor('the request line', () => requestLine('corr-given-1'));
    expect(line).toMatchObject({ method: 'PUT', route: '/api/2/things/:thingId', status: 201 });
    expect(typeof line.durationMs).toBe('number');
  });

  it('REST without one: the id made up for the request is the journal entry’s and the event’s', async () => {
    const thingId = `${ns}:made-up`;
    const created = await request(t.baseUrl)
      .put(`/api/2/things/${thingId}`)
      .set(authHeaders())
      .send({ attributes: { a: 1 } })
      .expect(201);
    const changed = await request(t.baseUrl)
      .put(`/api/2/things/${thingId}/attributes/a`)
      .set(authHeaders())
      .send('2')
      .set('content-type', 'application/json')
      .expect(204);
    const ids = [created, changed].map((r) => String(r.headers['correlation-id']));
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[1]).not.toBe(ids[0]);
    expect(await journalIds(thingId)).toEqual(ids);
    await waitFor('both events', () => eventsOf(thingId).length === 2);
    expect(eventsOf(thingId).map((e) => e.headers['correlation-id'])).toEqual(ids);
    expect(requestLine(ids[1])).toMatchObject({
      route: '/api/2/things/:thingId/*path',
      status: 204,
    });
  });

  it("MQTT: a device's Ditto protocol command keeps its correlation id into the journal and the event", async () => {
    const thingId = `${ns}:device`;
    const device = await fleet.device(thingId);
    await publish(device, `things/${thingId}/ditto`, {
      topic: `${ns}/device/things/twin/commands/modify`,
      headers: { 'correlation-id': 'corr-mqtt-1' },
      path: '/features/lamp',
      value: { properties: { on: true } },
    });
    await waitFor('the device’s change', async () => (await journalIds(thingId)).includes('corr-mqtt-1'));
    await waitFor('its event', () =>
      eventsOf(thingId).some((e) => e.headers['correlation-id'] === 'corr-mqtt-1'),
    );
    const event = eventsOf(thingId).find((e) => e.headers['correlation-id'] === 'corr-mqtt-1');
    expect(event).toMatchObject({ path: '/features/lamp', value: { properties: { on: true } } });
  });
});
