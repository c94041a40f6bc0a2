import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authHeaders } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';
import { DittoSocket, SseClient, startInstance, until, type Instance } from './realtime.support.js';

/**
 * Two application instances on one database, as replicas behind a load balancer: each pushes
 * every change to its clients, whichever instance committed it (LISTEN/NOTIFY + the journal).
 */
let database: { url: string; drop: () => Promise<void> };
let a: Instance;
let b: Instance;

beforeAll(async () => {
  database = await createTestDatabase();
  a = await startInstance(database.url);
  b = await startInstance(database.url);
});
afterAll(async () => {
  await a.close();
  await b.close();
  await database.drop();
});

function put(instance: Instance, path: string, body: unknown): Promise<Response> {
  return fetch(`${instance.baseUrl}/api/2/things/${path}`, {
    method: 'PUT',
    headers: { ...authHeaders(), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('replicas on one database', () => {
  it('a change through A reaches a WebSocket client on B, and the other way round', async () => {
    const onA = await DittoSocket.open(a.wsUrl);
    const onB = await DittoSocket.open(b.wsUrl);
    await onA.control('START-SEND-EVENTS?namespaces=org.rep');
    await onB.control('START-SEND-EVENTS?namespaces=org.rep');

    expect((await put(a, 'org.rep:one', { attributes: { via: 'A' } })).status).toBe(201);
    await until('B to see the change made on A', () => onB.events.length >= 1);
    expect(onB.events[0]).toMatchObject({
      topic: 'org.rep/one/things/twin/events/created',
      value: { attributes: { via: 'A' } },
    });

    expect((await put(b, 'org.rep:one/attributes/via', 'B')).status).toBe(204);
    // A WebSocket command on A too: every path into the write path is seen everywhere.
    const answer = await onA.command({
      topic: 'org.rep/one/things/twin/commands/modify',
      path: '/attributes/ws',
      value: true,
    });
    expect(answer.status).toBe(201);
    await until('all three on both', () => onA.events.length >= 2 && onB.events.length >= 3);
    expect(onA.events.map((e) => e.revision)).toEqual([1, 2]); // its own command's event is not sent back
    expect(onB.events.map((e) => [e.revision, e.path])).toEqual([
      [1, '/'],
      [2, '/attributes/via'],
      [3, '/attributes/ws'],
    ]);
    // Both replicas number the events the same way: the journal seq.
    expect(onA.events.map((e) => e.headers['event-id'])).toEqual(
      onB.events.slice(0, 2).map((e) => e.headers['event-id']),
    );
    await onA.close();
    await onB.close();
  });

  it('SSE on B streams what is written through A', async () => {
    const sse = await SseClient.open(`${b.baseUrl}/api/2/things/org.rep:two`);
    expect((await put(a, 'org.rep:two', { features: { f: { properties: { x: 1 } } } })).status).toBe(201);
    expect((await put(a, 'org.rep:two/features/f/properties/x', 2)).status).toBe(204);
    await until('two SSE events', () => sse.events.length >= 2);
    expect(sse.events.map((e) => JSON.parse(e.data) as unknown)).toEqual([
      { thingId: 'org.rep:two', policyId: 'org.rep:two', features: { f: { properties: { x: 1 } } } },
      { thingId: 'org.rep:two', features: { f: { properties: { x: 2 } } } },
    ]);
    sse.close();
  });
});
