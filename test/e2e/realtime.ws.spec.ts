import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authHeaders } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { DittoSocket, feedCaughtUp, until } from './realtime.support.js';

/** `/ws/2` with a raw `ws` client: Ditto's control messages, streaming parameters and commands. */
let t: TestApp;
let wsUrl: string;

beforeAll(async () => {
  t = await startTestApp();
  wsUrl = `ws://${t.domain}/ws/2`;
});
afterAll(async () => {
  await t.close();
});

async function put(path: string, body: unknown): Promise<number> {
  const res = await fetch(`${t.baseUrl}/api/2/things/${path}`, {
    method: 'PUT',
    headers: { ...authHeaders(), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.status;
}

/** A change the socket must see; once it has, every earlier change it would see has arrived too. */
async function sentinel(socket: DittoSocket, thingId: string, value: number): Promise<void> {
  await put(`${thingId}/attributes/sentinel`, value);
  await until(`sentinel ${value}`, () =>
    socket.events.some((e) => e.path === '/attributes/sentinel' && e.value === value),
  );
}

describe('events', () => {
  it('answers START-SEND-EVENTS with the bare ack and streams Ditto Protocol events', async () => {
    const socket = await DittoSocket.open(wsUrl);
    await socket.control('START-SEND-EVENTS');
    expect(socket.texts).toEqual(['START-SEND-EVENTS:ACK']);
    expect(await put('org.rt:ev-1', { attributes: { a: 1 } })).toBe(201);
    expect(await put('org.rt:ev-1/attributes/a', 2)).toBe(204);
    await until('two events', () => socket.events.length >= 2);
    const [created, modified] = socket.events;
    expect(created).toMatchObject({
      topic: 'org.rt/ev-1/things/twin/events/created',
      path: '/',
      value: { thingId: 'org.rt:ev-1', policyId: 'org.rt:ev-1', attributes: { a: 1 } },
      revision: 1,
      headers: { 'content-type': 'application/json' },
    });
    expect(typeof created.headers['correlation-id']).toBe('string');
    expect(created.headers['event-id']).toMatch(/^\d+$/);
    expect(modified).toMatchObject({
      topic: 'org.rt/ev-1/things/twin/events/modified',
      path: '/attributes/a',
      value: 2,
      revision: 2,
    });
    expect(Number(modified.headers['event-id'])).toBeGreaterThan(Number(created.headers['event-id']));
    expect(Date.parse(modified.timestamp!)).not.toBeNaN();
    await socket.control('STOP-SEND-EVENTS');
    expect(socket.texts).toContain('STOP-SEND-EVENTS:ACK');
    await socket.close();
  });

  it('narrows the stream by namespaces', async () => {
    const socket = await DittoSocket.open(wsUrl);
    await socket.control('START-SEND-EVENTS?namespaces=org.ns-a,org.ns-c');
    await put('org.ns-b:x', { attributes: { n: 1 } });
    await put('org.ns-a:x', { attributes: { n: 2 } });
    await put('org.ns-c:s', {});
    await sentinel(socket, 'org.ns-c:s', 1);
    const namespaces = socket.events.map((e) => e.topic.split('/')[0]);
    expect(namespaces).toEqual(['org.ns-a', 'org.ns-c', 'org.ns-c']);
    await socket.close();
  });

  it('narrows the stream by an RQL filter on the change, as Ditto does', async () => {
    const socket = await DittoSocket.open(wsUrl);
    const filter = encodeURIComponent('or(gt(features/env/properties/t,20),exists(attributes/sentinel))');
    await socket.control(`START-SEND-EVENTS?filter=${filter}`);
    await put('org.rt:f-1', { features: { env: { properties: { t: 10 } } } });
    await put('org.rt:f-1/features/env/properties/t', 25);
    await put('org.rt:f-1/features/env/properties/t', 15);
    await put('org.rt:f-1/features/env/properties/h', 40);
    await sentinel(socket, 'org.rt:f-1', 1);
    expect(socket.events.map((e) => [e.path, e.value])).toEqual([
      ['/features/env/properties/t', 25],
      ['/attributes/sentinel', 1],
    ]);
    await socket.close();
  });

  it('sends a replaced thing as stored: a body without policyId keeps, and shows, the policy', async () => {
    await put('org.rt:rep-1', { policyId: 'org.rt:shared', attributes: { a: 1 } });
    await feedCaughtUp(t.app); // the creation is not part of what this test expects
    const socket = await DittoSocket.open(wsUrl);
    await socket.control(`START-SEND-EVENTS?filter=${encodeURIComponent('eq(policyId,"org.rt:shared")')}`);
    expect(await put('org.rt:rep-1', { attributes: { a: 2 } })).toBe(204);
    await until('the event', () => socket.events.length >= 1);
    const [replaced] = socket.events;
    expect(replaced).toMatchObject({ topic: 'org.rt/rep-1/things/twin/events/modified', path: '/' });
    expect(replaced.value).toEqual({
      thingId: 'org.rt:rep-1',
      policyId: 'org.rt:shared',
      attributes: { a: 2 },
    });
    // Ditto's field order, though the journal keeps the thing as jsonb.
    expect(Object.keys(replaced.value as object)).toEqual(['thingId', 'policyId', 'attributes']);
    await socket.close();
  });

  it('filters on enriched fields and on Ditto placeholders', async () => {
    const socket = await DittoSocket.open(wsUrl);
    const filter = encodeURIComponent('and(eq(attributes/kind,"pump"),ne(topic:action,"created"))');
    await socket.control(`START-SEND-EVENTS?extraFields=attributes/kind&filter=${filter}`);
    await put('org.rt:pump-1', { attributes: { kind: 'pump', level: 0, sentinel: 0 } });
    await put('org.rt:valve-1', { attributes: { kind: 'valve', level: 0 } });
    await put('org.rt:valve-1/attributes/level', 2);
    await put('org.rt:pump-1/attributes/level', 3);
    await sentinel(socket, 'org.rt:pump-1', 1);
    expect(socket.events.map((e) => [e.topic, e.path, e.value, e.extra])).toEqual([
      ['org.rt/pump-1/things/twin/events/modified', '/attributes/level', 3, { attributes: { kind: 'pump' } }],
      [
        'org.rt/pump-1/things/twin/events/modified',
        '/attributes/sentinel',
        1,
        { attributes: { kind: 'pump' } },
      ],
    ]);
    await socket.close();
  });
});

describe('extraFields', () => {
  it('adds the selected fields of the thing after the change as `extra`', async () => {
    await put('org.rt:x-1', {
      attributes: { location: 'hall', serial: 'A1' },
      features: { m: { properties: { v: 1 } } },
    });
    await feedCaughtUp(t.app); // the creation is not part of what this test expects
    const socket = await DittoSocket.open(wsUrl);
    await socket.control(
      'START-SEND-EVENTS?extraFields=attributes/location,features/m/properties/v,_revision',
    );
    await put('org.rt:x-1/features/m/properties/v', 2);
    await put('org.rt:x-1/attributes/location', 'roof');
    await fetch(`${t.baseUrl}/api/2/things/org.rt:x-1`, { method: 'DELETE', headers: authHeaders() });
    await until('three events', () => socket.events.length >= 3);
    expect(socket.events.map((e) => [e.path, e.extra])).toEqual([
      [
        '/features/m/properties/v',
        { attributes: { location: 'hall' }, features: { m: { properties: { v: 2 } } }, _revision: 2 },
      ],
      [
        '/attributes/location',
        { attributes: { location: 'roof' }, features: { m: { properties: { v: 2 } } }, _revision: 3 },
      ],
      // Ditto cannot enrich the deletion of a whole thing.
      ['/', undefined],
    ]);
    expect(socket.events[2].value).toBeUndefined();
    expect(socket.events[2].topic).toBe('org.rt/x-1/things/twin/events/deleted');
    await socket.close();
  });

  it('refuses bad streaming parameters with an error envelope and no ack', async () => {
    const socket = await DittoSocket.open(wsUrl);
    socket.send('START-SEND-EVENTS?filter=eq(attributes/a');
    socket.send('START-SEND-EVENTS?extraFields=attributes(');
    socket.send('START-SEND-EVENTS?from-event-id=abc');
    await until('three errors', () => socket.messages.length >= 3);
    expect(socket.messages.map((m) => [m.topic, m.status, (m.value as { error: string }).error])).toEqual([
      ['_/_/things/twin/errors', 400, 'rql.expression.invalid'],
      ['_/_/things/twin/errors', 400, 'things:field.selection.invalid'],
      ['_/_/things/twin/errors', 400, 'gateway:request.invalid'],
    ]);
    expect(socket.texts).toEqual([]);
    await socket.close();
  });
});

describe('commands', () => {
  const topic = (action: string) => `org.rt/cmd-1/things/twin/commands/${action}`;

  it('answers create, modify, retrieve, merge and delete with the request correlation-id', async () => {
    const socket = await DittoSocket.open(wsUrl);
    const created = await socket.command({
      topic: topic('create'),
      path: '/',
      value: { attributes: { a: 1 } },
      headers: { 'Content-Type': 'application/json', version: 2 },
    });
    expect(created).toMatchObject({ topic: topic('create'), path: '/', status: 201 });
    expect(created.value).toEqual({
      thingId: 'org.rt:cmd-1',
      policyId: 'org.rt:cmd-1',
      attributes: { a: 1 },
    });
    const first = await socket.command({ topic: topic('modify'), path: '/attributes/b', value: 'x' });
    expect(first).toMatchObject({ path: '/attributes/b', status: 201, value: 'x' });
    const again = await socket.command({ topic: topic('modify'), path: '/attributes/b', value: 'y' });
    expect(again.status).toBe(204);
    expect(again.value).toBeUndefined();
    const merged = await socket.command({
      topic: topic('merge'),
      path: '/attributes',
      value: { a: null, c: true },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(merged.status).toBe(204);
    const read = await socket.command({ topic: topic('retrieve'), path: '/attributes' });
    expect(read).toMatchObject({
      topic: topic('retrieve'),
      path: '/attributes',
      status: 200,
      value: { b: 'y', c: true },
    });
    const fields = await socket.command({ topic: topic('retrieve'), path: '/', fields: 'thingId,_revision' });
    expect(fields.value).toEqual({ thingId: 'org.rt:cmd-1', _revision: 4 });
    const deleted = await socket.command({ topic: topic('delete'), path: '/attributes/b' });
    expect(deleted.status).toBe(204);
    await socket.close();
  });

  it('honours If-Match sent with any header case', async () => {
    const socket = await DittoSocket.open(wsUrl);
    const stale = await socket.command({
      topic: topic('modify'),
      path: '/attributes/c',
      value: 1,
      headers: { 'If-Match': '"rev:1"' },
    });
    expect(stale).toMatchObject({ topic: 'org.rt/cmd-1/things/twin/errors', status: 412 });
    expect((stale.value as { error: string }).error).toBe('things:precondition.failed');
    await socket.close();
  });

  it('answers failures with error envelopes', async () => {
    const socket = await DittoSocket.open(wsUrl);
    const missing = await socket.command({ topic: 'org.rt/nope/things/twin/commands/retrieve', path: '/' });
    expect(missing).toMatchObject({ topic: 'org.rt/nope/things/twin/errors', path: '/', status: 404 });
    expect(missing.value).toMatchObject({ status: 404, error: 'things:thing.notfound' });
    const badTopic = await socket.command({
      topic: 'org.rt/cmd-1/things/twin/commands/frobnicate',
      path: '/',
    });
    expect(badTopic).toMatchObject({
      status: 400,
      value: { error: 'things.protocol.adapter:unknown.topicpath' },
    });
    const noValue = await socket.command({ topic: topic('modify'), path: '/attributes/x' });
    expect(noValue).toMatchObject({ status: 400, value: { error: 'json.invalid' } });
    const badPath = await socket.command({ topic: topic('modify'), path: '/attributes//x', value: 1 });
    expect(badPath).toMatchObject({ status: 400, value: { error: 'json.pointer.invalid' } });
    socket.send('{not json');
    await until('the parse error', () => socket.messages.some((m) => m.topic === '_/_/things/twin/errors'));
    const parseError = socket.messages.find((m) => m.topic === '_/_/things/twin/errors')!;
    expect(parseError).toMatchObject({ status: 400, value: { error: 'json.invalid' } });
    await socket.close();
  });

  it('does not send a session the events of its own commands', async () => {
    const writer = await DittoSocket.open(wsUrl);
    const watcher = await DittoSocket.open(wsUrl);
    await writer.control('START-SEND-EVENTS?namespaces=org.own');
    await watcher.control('START-SEND-EVENTS?namespaces=org.own');
    await writer.command({
      topic: 'org.own/t/things/twin/commands/modify',
      path: '/',
      value: { attributes: { n: 0 } },
    });
    for (let n = 1; n <= 5; n++) {
      await writer.command({
        topic: 'org.own/t/things/twin/commands/modify',
        path: '/attributes/n',
        value: n,
      });
    }
    // A change by someone else reaches the writer; all of its own were left out before it.
    await put('org.own:t/attributes/n', 99);
    await until('the REST change', () => writer.events.length >= 1);
    expect(writer.events.map((e) => e.value)).toEqual([99]);
    await until('all changes', () => watcher.events.length >= 7);
    expect(watcher.events.map((e) => e.revision)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await writer.close();
    await watcher.close();
  });
});
