import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DittoNodeClient,
  NodeWebSocketBasicAuth,
  Thing,
  type DittoWebSocketTwinClient,
} from '@eclipse-ditto/ditto-javascript-client-node';
import { WsSessions } from '../../src/realtime/ws-sessions.js';
import { authHeaders } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { until } from './realtime.support.js';

/**
 * `/ws/2` driven by Eclipse Ditto's official JavaScript client: a tool written for Ditto must
 * receive changes and send commands here unchanged.
 */
let t: TestApp;
let client: DittoWebSocketTwinClient;
const NS = 'org.wsclient';

beforeAll(async () => {
  t = await startTestApp();
  client = DittoNodeClient.newWebSocketClient()
    .withoutTls()
    .withDomain(t.domain)
    .withAuthProvider(NodeWebSocketBasicAuth.newInstance('ditto', 'ditto'))
    .withBuffer(15)
    .twinChannel()
    .build();
});
afterAll(async () => {
  closeQuietly(client);
  const sessions = t.app.get(WsSessions);
  await until('the client to disconnect', () => sessions.size === 0);
  await t.close();
});

/**
 * The client's close() leaves a promise rejected with "Reconnect disabled" behind (js-client.md
 * quirk 6), and Jest's own unhandled-rejection handler (which replaces any a test installs) fails
 * the suite on it. The rejection comes from the socket's close listener, so detach that first.
 */
function closeQuietly(c: DittoWebSocketTwinClient): void {
  const internals = c as unknown as {
    responseHandler: { resilienceHandler: { webSocket?: NodeSocket; lastWebSocket?: NodeSocket } };
  };
  const handler = internals.responseHandler.resilienceHandler;
  (handler.webSocket ?? handler.lastWebSocket)?.webSocket.removeAllListeners('close');
  c.close();
}
type NodeSocket = { webSocket: { removeAllListeners(event: string): void } };

interface Received {
  action: string;
  topic: string;
  path: string;
  value?: unknown;
}

describe('official Ditto JS client over WebSocket', () => {
  it('receives a change made over REST through requestEvents and subscribeToThing', async () => {
    const events = client.getEventsHandle();
    await events.requestEvents();
    const received: Received[] = [];
    events.subscribeToThing(`${NS}:lamp-1`, (msg) => received.push(msg));

    const created = await fetch(`${t.baseUrl}/api/2/things/${NS}:lamp-1`, {
      method: 'PUT',
      headers: { ...authHeaders(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ features: { lamp: { properties: { on: false } } } }),
    });
    expect(created.status).toBe(201);
    const changed = await fetch(`${t.baseUrl}/api/2/things/${NS}:lamp-1/features/lamp/properties/on`, {
      method: 'PUT',
      headers: { ...authHeaders(), 'Content-Type': 'application/json' },
      body: 'true',
    });
    expect(changed.status).toBe(204);

    await until('both events', () => received.length >= 2);
    expect(received[0]).toMatchObject({
      action: 'created',
      topic: `${NS}/lamp-1/things/twin/events/created`,
      path: '/',
    });
    expect(received[1]).toMatchObject({
      action: 'modified',
      topic: `${NS}/lamp-1/things/twin/events/modified`,
      path: '/features/lamp/properties/on',
      value: true,
    });
  });

  it('sends commands over the socket and gets Ditto responses', async () => {
    const things = client.getThingsHandle();
    const put = await things.putThing(new Thing(`${NS}:meter-1`, `${NS}:meter-1`, { floor: 1 }));
    expect(put.status).toBe(201);
    const attr = await things.putAttribute(`${NS}:meter-1`, 'floor', 2);
    expect(attr.status).toBe(204);
    const thing = await things.getThing(`${NS}:meter-1`);
    expect(thing.thingId).toBe(`${NS}:meter-1`);
    expect(thing.attributes).toEqual({ floor: 2 });
    const missing = await things.getThing(`${NS}:nothing`).then(
      () => undefined,
      (err: unknown) => err as { error: string; status: number },
    );
    expect(missing).toMatchObject({ status: 404, error: 'things:thing.notfound' });
  });
});
