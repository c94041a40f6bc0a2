import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type MqttClient } from 'mqtt';
import request from 'supertest';
import { TEST_USERS, type TestUserName } from '../support/auth.js';
import { dittoHttp } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import {
  dropSession,
  MQTT_TEST_URL,
  startIngestApp,
  uniqueNamespace,
  waitFor,
  type IngestTestApp,
} from '../support/mqtt.js';
import { runFleet, thingIdFor } from '../../simulators/index.js';
import { DittoSocket, startInstance, type DittoMessage, type Instance } from './realtime.support.js';

/**
 * Ditto's live messages end to end: HTTP inbox → MQTT device (authenticated on the embedded
 * broker) → its outbox answer → the HTTP caller; WebSocket clients receiving and answering;
 * policies on `message:/`; timeouts and bounds. Every HTTP answer is checked against Ditto's spec.
 */

interface DeviceMessage {
  correlationId: string;
  thingId: string;
  featureId?: string;
  subject: string;
  direction: string;
  contentType?: string;
  headers: Record<string, string>;
  payload?: unknown;
  payloadEncoding?: string;
  timeout: number;
  responseRequired: boolean;
}

const ns = uniqueNamespace('msg');
let t: IngestTestApp;
let http: ReturnType<typeof dittoHttp>;
let wsUrl: string;
const devices: MqttClient[] = [];

beforeAll(async () => {
  t = await startIngestApp({
    MQTT_URL: '',
    MESSAGES_MAX_PAYLOAD_BYTES: '2048',
    MESSAGES_MAX_PENDING_PER_THING: '30',
  });
  http = dittoHttp(t.baseUrl);
  wsUrl = t.baseUrl.replace('http', 'ws') + '/ws/2';
});
afterAll(async () => {
  await Promise.all(devices.map((d) => d.endAsync(true)));
  await t?.close();
});

const as = (user: TestUserName) => dittoHttp(t.baseUrl, user);

/** A provisioned, authenticated device subscribed to its inbox, recording what it receives. */
async function device(
  name: string,
): Promise<{ id: string; client: MqttClient; received: DeviceMessage[]; topics: string[] }> {
  const id = `${ns}:${name}`;
  const secrets = await provisionDevices(t.baseUrl, [id]);
  const client = await connectAs(t.brokerUrl, id, secrets.get(id)!);
  devices.push(client);
  const granted = await client.subscribeAsync([`things/${id}/inbox/#`, `things/${id}/features/+/inbox/#`], {
    qos: 1,
  });
  expect(granted.map((g) => g.qos)).toEqual([1, 1]);
  const received: DeviceMessage[] = [];
  const topics: string[] = [];
  client.on('message', (topic, payload) => {
    topics.push(topic);
    received.push(JSON.parse(payload.toString()) as DeviceMessage);
  });
  return { id, client, received, topics };
}

/** The device answers every message with `answer(m)` on the outbox twin of its topic. */
function answering(
  client: MqttClient,
  answer: (m: DeviceMessage) => Record<string, unknown> | undefined,
): void {
  client.on('message', (topic, payload) => {
    const m = JSON.parse(payload.toString()) as DeviceMessage;
    const reply = answer(m);
    if (!reply) return;
    void client.publishAsync(
      topic.replace('/inbox/', '/outbox/'),
      JSON.stringify({ correlationId: m.correlationId, ...reply }),
      { qos: 1 },
    );
  });
}

describe('HTTP inbox to a device over MQTT and back', () => {
  it('delivers a JSON message with its correlation id and headers; the answer is the HTTP response', async () => {
    const d = await device('json');
    answering(d.client, (m) => ({
      status: 200,
      contentType: 'application/json',
      payload: { applied: m.payload },
    }));
    const res = await http
      .post(`/api/2/things/${d.id}/inbox/messages/setSetpoint`)
      .set('correlation-id', 'corr-json-1')
      .set('x-custom', 'kept')
      .send({ setpoint: 21.5 })
      .expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['correlation-id']).toBe('corr-json-1');
    expect(res.body).toEqual({ applied: { setpoint: 21.5 } });
    expect(d.topics).toEqual([`things/${d.id}/inbox/setSetpoint`]);
    expect(d.received[0]).toMatchObject({
      correlationId: 'corr-json-1',
      thingId: d.id,
      subject: 'setSetpoint',
      direction: 'inbox',
      contentType: 'application/json',
      payload: { setpoint: 21.5 },
      timeout: 10,
      responseRequired: true,
    });
    expect(d.received[0].headers['x-custom']).toBe('kept');
    // The caller's credentials never reach the device.
    expect(d.received[0].headers.authorization).toBeUndefined();
  });

  it("forwards the answer's status, content type and text payload; 204 has no body", async () => {
    const d = await device('text');
    answering(d.client, (m) =>
      m.subject === 'quiet'
        ? { status: 204 }
        : { status: 201, contentType: 'text/plain', payload: `got ${String(m.payload)}` },
    );
    const res = await http
      .post(`/api/2/things/${d.id}/inbox/messages/ask`)
      .set('content-type', 'text/plain')
      .send('hello')
      .expect(201);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toBe('got hello');
    expect(d.received[0]).toMatchObject({ contentType: 'text/plain', payload: 'hello' });
    const quiet = await http.post(`/api/2/things/${d.id}/inbox/messages/quiet`).expect(204);
    expect(quiet.text).toBe('');
  });

  it('carries binary payloads base64-encoded and gives them back as bytes', async () => {
    const d = await device('binary');
    answering(d.client, (m) => ({
      status: 200,
      contentType: 'application/octet-stream',
      payload: m.payload,
      payloadEncoding: 'base64',
    }));
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const res = await request(t.baseUrl)
      .post(`/api/2/things/${d.id}/inbox/messages/firmware`)
      .auth('ditto', 'ditto')
      .set('content-type', 'application/octet-stream')
      .send(bytes)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect(Buffer.compare(res.body as Buffer, bytes)).toBe(0);
    expect(d.received[0]).toMatchObject({ payloadEncoding: 'base64', payload: bytes.toString('base64') });
  });

  it('addresses features on things/{id}/features/{f}/inbox/{subject}, subjects of several levels too', async () => {
    const d = await device('feature');
    answering(d.client, (m) => ({ status: 200, payload: { feature: m.featureId, subject: m.subject } }));
    const res = await http
      .post(`/api/2/things/${d.id}/features/thermostat/inbox/messages/mode/eco`)
      .send({})
      .expect(200);
    expect(res.body).toEqual({ feature: 'thermostat', subject: 'mode/eco' });
    expect(d.topics).toEqual([`things/${d.id}/features/thermostat/inbox/mode/eco`]);
  });

  it('answers 202 at once with timeout=0 and still delivers, without waiting for an answer', async () => {
    const d = await device('fire');
    await http.post(`/api/2/things/${d.id}/inbox/messages/reboot?timeout=0`).send({}).expect(202);
    await waitFor('the message at the device', () => d.received.length === 1);
    expect(d.received[0]).toMatchObject({ subject: 'reboot', timeout: 0, responseRequired: false });
  });

  it('answers 408 (Ditto error JSON) when the device never answers', async () => {
    const d = await device('silent');
    const res = await http.post(`/api/2/things/${d.id}/inbox/messages/ping?timeout=1`).send({}).expect(408);
    expect(res.body).toMatchObject({ status: 408, error: 'command.timeout' });
    expect(d.received).toHaveLength(1);
  });

  it('drops an answer that comes after the timeout (no late surprises for the next request)', async () => {
    const d = await device('late');
    await http.post(`/api/2/things/${d.id}/inbox/messages/slow?timeout=1`).send({}).expect(408);
    await d.client.publishAsync(
      `things/${d.id}/outbox/slow`,
      JSON.stringify({ correlationId: d.received[0].correlationId, status: 200, payload: 'late' }),
      { qos: 1 },
    );
    answering(d.client, () => ({ status: 200, payload: 'fresh' }));
    const res = await http.post(`/api/2/things/${d.id}/inbox/messages/slow`).send({}).expect(200);
    expect(res.text).toBe('fresh');
  });

  it('gives each of many concurrent messages its own answer, even when answered out of order', async () => {
    const d = await device('concurrent');
    const n = 20;
    // Answered in reverse order once all have arrived.
    d.client.on('message', () => {
      if (d.received.length < n) return;
      for (const m of [...d.received].reverse()) {
        void d.client.publishAsync(
          `things/${d.id}/outbox/${m.subject}`,
          JSON.stringify({ correlationId: m.correlationId, status: 200, payload: { echo: m.payload } }),
          { qos: 1 },
        );
      }
    });
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        http
          .post(`/api/2/things/${d.id}/inbox/messages/echo`)
          .set('correlation-id', `c-${i}`)
          .send({ i })
          .expect(200),
      ),
    );
    expect(answers.map((r) => (r.body as { echo: { i: number } }).echo.i)).toEqual(
      Array.from({ length: n }, (_, i) => i),
    );
    expect(answers.map((r) => r.headers['correlation-id'])).toEqual(
      Array.from({ length: n }, (_, i) => `c-${i}`),
    );
  });

  it('refuses more waiting messages per thing than MESSAGES_MAX_PENDING_PER_THING (429)', async () => {
    const d = await device('crowded');
    // Sent now (supertest sends on then()), answered only at the end.
    const waiting = Array.from({ length: 30 }, () =>
      http
        .post(`/api/2/things/${d.id}/inbox/messages/hold?timeout=20`)
        .send({})
        .then((r) => r),
    );
    await waitFor('30 messages at the device', () => d.received.length === 30);
    const refused = await http
      .post(`/api/2/things/${d.id}/inbox/messages/hold?timeout=20`)
      .send({})
      .expect(429);
    expect(refused.body).toMatchObject({ status: 429 });
    // Answering frees them all.
    for (const m of d.received) {
      await d.client.publishAsync(
        `things/${d.id}/outbox/hold`,
        JSON.stringify({ correlationId: m.correlationId, status: 204 }),
        { qos: 1 },
      );
    }
    expect((await Promise.all(waiting)).map((r) => r.status)).toEqual(Array(30).fill(204));
  });
});

describe('refusals', () => {
  it('answers 404 for a thing that does not exist', async () => {
    const res = await http.post(`/api/2/things/${ns}:nothing/inbox/messages/hello`).send({}).expect(404);
    expect(res.body).toMatchObject({ error: 'things:thing.notfound' });
  });

  it('refuses a bad timeout, a payload over MESSAGES_MAX_PAYLOAD_BYTES and invalid JSON', async () => {
    const d = await device('refusals');
    expect(
      (await http.post(`/api/2/things/${d.id}/inbox/messages/x?timeout=61`).send({}).expect(400)).body,
    ).toMatchObject({
      error: 'timeout.invalid',
    });
    expect(
      (await http.post(`/api/2/things/${d.id}/inbox/messages/x?timeout=abc`).send({}).expect(400)).body,
    ).toMatchObject({
      error: 'timeout.invalid',
    });
    expect(
      (
        await http
          .post(`/api/2/things/${d.id}/inbox/messages/x?timeout=0`)
          .send({ big: 'x'.repeat(3000) })
          .expect(413)
      ).body,
    ).toMatchObject({ error: 'messages:payload.toolarge' });
    expect(
      (
        await http
          .post(`/api/2/things/${d.id}/inbox/messages/x?timeout=0`)
          .set('content-type', 'application/json')
          .send('{not json')
          .expect(400)
      ).body,
    ).toMatchObject({ error: 'messages:messageformat.invalid' });
    expect(d.received).toHaveLength(0);
  });

  it('hides the thing from a user without access (404) and refuses one without message:/ WRITE (403)', async () => {
    const id = `${ns}:guarded`;
    await as('alice').put(`/api/2/things/${id}`).send({}).expect(201);
    await as('bob').post(`/api/2/things/${id}/inbox/messages/open?timeout=0`).send({}).expect(404);
    // Bob may read the thing but not send messages.
    await as('alice')
      .put(`/api/2/policies/${id}/entries/reader`)
      .send({
        subjects: { [TEST_USERS.bob.subject]: { type: 'test' } },
        resources: { 'thing:/': { grant: ['READ'], revoke: [] } },
      })
      .expect(201);
    const res = await as('bob')
      .post(`/api/2/things/${id}/inbox/messages/open?timeout=0`)
      .send({})
      .expect(403);
    expect(res.body).toMatchObject({ error: 'messages:send.notallowed' });
    // Granted WRITE on one subject only.
    await as('alice')
      .put(`/api/2/policies/${id}/entries/sender`)
      .send({
        subjects: { [TEST_USERS.bob.subject]: { type: 'test' } },
        resources: { 'message:/inbox/messages/open': { grant: ['WRITE'], revoke: [] } },
      })
      .expect(201);
    await as('bob').post(`/api/2/things/${id}/inbox/messages/open?timeout=0`).send({}).expect(202);
    await as('bob').post(`/api/2/things/${id}/inbox/messages/close?timeout=0`).send({}).expect(403);
  });

  it('sends claim messages without any permission on the thing, as Ditto', async () => {
    const d = await device('claimable');
    answering(d.client, (m) =>
      m.subject === 'claim' ? { status: 200, payload: { claimedBy: m.headers['x-claimer'] } } : undefined,
    );
    const res = await as('bob')
      .post(`/api/2/things/${d.id}/inbox/claim`)
      .set('x-claimer', 'bob')
      .send({})
      .expect(200);
    expect(res.body).toEqual({ claimedBy: 'bob' });
    expect(d.topics).toEqual([`things/${d.id}/inbox/claim`]);
  });

  it("keeps devices to their own mailboxes: another device's inbox cannot be subscribed", async () => {
    const a = await device('mailbox-a');
    const b = await device('mailbox-b');
    // mqtt.js rejects a SUBACK that grants 0x80 (failure).
    await expect(a.client.subscribeAsync(`things/${b.id}/inbox/#`, { qos: 1 })).rejects.toThrow();
    await expect(a.client.subscribeAsync(`things/${a.id}/features/+/outbox/#`, { qos: 1 })).rejects.toThrow();
    await expect(a.client.subscribeAsync('things/+/inbox/#', { qos: 1 })).rejects.toThrow();
  });
});

describe('/ws/2 clients (START-SEND-MESSAGES)', () => {
  async function socket(user: TestUserName = 'ditto'): Promise<DittoSocket> {
    const s = await DittoSocket.open(wsUrl, {}, user);
    await s.control('START-SEND-MESSAGES');
    return s;
  }
  const messagesOf = (s: DittoSocket): DittoMessage[] =>
    s.messages.filter((m) => m.topic.includes('/things/live/messages/'));

  it('receive inbox messages as Ditto envelopes and answer them for the HTTP caller', async () => {
    const id = `${ns}:ws-answered`;
    await http.put(`/api/2/things/${id}`).send({}).expect(201);
    const s = await socket();
    try {
      const call = http
        .post(`/api/2/things/${id}/inbox/messages/getStatus`)
        .set('correlation-id', 'ws-1')
        .send({ verbose: true });
      const pending = call.then((r) => r);
      const [got] = await waitFor('the message on the socket', () =>
        messagesOf(s).length > 0 ? messagesOf(s) : undefined,
      );
      expect(got).toMatchObject({
        topic: `${ns}/ws-answered/things/live/messages/getStatus`,
        path: '/inbox/messages/getStatus',
        value: { verbose: true },
        headers: {
          'correlation-id': 'ws-1',
          'content-type': 'application/json',
          direction: 'TO',
          subject: 'getStatus',
        },
      });
      s.send(
        JSON.stringify({
          topic: got.topic,
          headers: { 'Correlation-Id': 'ws-1', 'Content-Type': 'application/json' },
          path: '/outbox/messages/getStatus',
          value: { state: 'fine' },
          status: 200,
        }),
      );
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ state: 'fine' });
    } finally {
      await s.close();
    }
  });

  it("receive a device's own outbox messages, and HTTP outbox messages (202)", async () => {
    const d = await device('ws-outbox');
    const s = await socket();
    try {
      await d.client.publishAsync(
        `things/${d.id}/outbox/alarm`,
        JSON.stringify({ contentType: 'application/json', payload: { level: 3 } }),
        { qos: 1 },
      );
      await http
        .post(`/api/2/things/${d.id}/outbox/messages/inform`)
        .set('content-type', 'text/plain')
        .send('bye')
        .expect(202);
      await waitFor('both messages', () => messagesOf(s).length === 2);
      expect(messagesOf(s).map((m) => [m.path, m.value, m.headers.direction])).toEqual([
        ['/outbox/messages/alarm', { level: 3 }, 'FROM'],
        ['/outbox/messages/inform', 'bye', 'FROM'],
      ]);
    } finally {
      await s.close();
    }
  });

  it('send messages themselves and get the answer as an envelope with its status', async () => {
    const d = await device('ws-sender');
    answering(d.client, (m) => ({ status: 200, payload: { pong: m.payload } }));
    const s = await DittoSocket.open(wsUrl);
    try {
      const answer = await s.command({
        topic: `${ns}/ws-sender/things/live/messages/ping`,
        path: '/inbox/messages/ping',
        headers: { 'content-type': 'application/json', timeout: '5s' },
        value: 1,
      });
      expect(answer).toMatchObject({ status: 200, value: { pong: 1 }, path: '/inbox/messages/ping' });
    } finally {
      await s.close();
    }
  });

  it('see only messages whose message:/ resource they may READ', async () => {
    const id = `${ns}:ws-policy`;
    await as('alice').put(`/api/2/things/${id}`).send({}).expect(201);
    await as('alice')
      .put(`/api/2/policies/${id}/entries/bob`)
      .send({
        subjects: { [TEST_USERS.bob.subject]: { type: 'test' } },
        resources: {
          'thing:/': { grant: ['READ'], revoke: [] },
          'message:/inbox/messages/public': { grant: ['READ'], revoke: [] },
        },
      })
      .expect(201);
    const bob = await socket('bob');
    const alice = await socket('alice');
    try {
      await as('alice').post(`/api/2/things/${id}/inbox/messages/secret?timeout=0`).send({}).expect(202);
      await as('alice').post(`/api/2/things/${id}/inbox/messages/public?timeout=0`).send({}).expect(202);
      await waitFor('both at alice', () => messagesOf(alice).length === 2);
      await waitFor('one at bob', () => messagesOf(bob).length === 1);
      expect(messagesOf(bob)[0].headers.subject).toBe('public');
      // Bob cannot answer the secret one (he may not receive it): refused as an error envelope.
      const refusal = await bob.command({
        topic: `${ns}/ws-policy/things/live/messages/secret`,
        path: '/outbox/messages/secret',
        value: 'forged',
        status: 200,
      });
      expect(refusal.topic).toBe(`${ns}/ws-policy/things/live/errors`);
      expect(refusal.status).toBe(403);
    } finally {
      await bob.close();
      await alice.close();
    }
  });

  it('with START-SEND-MESSAGES?filter=… and namespaces=… get only the matching messages', async () => {
    const id = `${ns}:ws-filtered`;
    await http.put(`/api/2/things/${id}`).send({}).expect(201);
    const filtered = await DittoSocket.open(wsUrl);
    const otherNs = await DittoSocket.open(wsUrl);
    const all = await socket();
    try {
      // Ditto's placeholders of a message: its subject is topic:action, its path resource:path.
      const filter = encodeURIComponent(
        `and(eq(topic:action,"setSetpoint"),eq(thingId,"${id}"),like(resource:path,"/inbox/*"))`,
      );
      await filtered.control(`START-SEND-MESSAGES?filter=${filter}`);
      await otherNs.control('START-SEND-MESSAGES?namespaces=org.elsewhere');
      await http.post(`/api/2/things/${id}/inbox/messages/reboot?timeout=0`).send({}).expect(202);
      await http.post(`/api/2/things/${id}/outbox/messages/setSetpoint`).send({ v: 0 }).expect(202);
      await http.post(`/api/2/things/${id}/inbox/messages/setSetpoint?timeout=0`).send({ v: 1 }).expect(202);
      // The unfiltered socket got all three, so the others had their chance at each.
      await waitFor('all three at the unfiltered socket', () => messagesOf(all).length === 3);
      await waitFor('the match at the filtered socket', () => messagesOf(filtered).length === 1);
      expect(messagesOf(filtered).map((m) => [m.path, m.value])).toEqual([
        ['/inbox/messages/setSetpoint', { v: 1 }],
      ]);
      expect(messagesOf(otherNs)).toEqual([]);
      // A filter that is not RQL is refused like an event filter, with no ack.
      filtered.send('START-SEND-MESSAGES?filter=eq(');
      const error = await waitFor('the refusal', () =>
        filtered.messages.find((m) => m.topic === '_/_/things/twin/errors'),
      );
      expect(error.status).toBe(400);
    } finally {
      await filtered.close();
      await otherNs.close();
      await all.close();
    }
  });

  it('answer live commands with a documented refusal (501), not silence', async () => {
    const s = await DittoSocket.open(wsUrl);
    try {
      const answer = await s.command({ topic: `${ns}/x/things/live/commands/retrieve`, path: '/' });
      expect(answer).toMatchObject({
        status: 501,
        value: { error: 'things.protocol.adapter:channel.unsupported' },
      });
      const liveEvent = await s.command({
        topic: `${ns}/x/things/live/events/modified`,
        path: '/attributes/a',
        value: 1,
      });
      expect(liveEvent).toMatchObject({
        status: 400,
        value: { error: 'things.protocol.adapter:unknown.topicpath' },
      });
    } finally {
      await s.close();
    }
  });
});

describe('the live channel over HTTP', () => {
  it('refuses channel=live with 501, as /ws/2 does, and leaves the twin as it was', async () => {
    const id = `${ns}:http-live`;
    await http
      .put(`/api/2/things/${id}`)
      .send({ attributes: { mode: 'eco' } })
      .expect(201);
    const read = await http.get(`/api/2/things/${id}/attributes`).query({ channel: 'live' }).expect(501);
    expect(read.body.error).toBe('things.protocol.adapter:channel.unsupported');
    const write = await http
      .put(`/api/2/things/${id}/attributes/mode`)
      .query({ channel: 'live' })
      .send('"boost"')
      .set('content-type', 'application/json')
      .expect(501);
    expect(write.body.error).toBe('things.protocol.adapter:channel.unsupported');
    await http.delete(`/api/2/things/${id}`).set('channel', 'live').expect(501);
    const twin = await http.get(`/api/2/things/${id}/attributes`).query({ channel: 'twin' }).expect(200);
    expect(twin.body).toEqual({ mode: 'eco' });
  });
});

describe('simulated devices (simulators/commands.ts)', () => {
  it('answer setSetpoint, getStatus and refuse what they do not understand', async () => {
    const id = thingIdFor(ns, 'energy', 1);
    const credentials = Object.fromEntries(await provisionDevices(t.baseUrl, [id]));
    const stop = new AbortController();
    const fleet = runFleet({
      broker: t.brokerUrl,
      profile: 'energy',
      devices: 1,
      rate: 2,
      namespace: ns,
      seed: 'messages',
      clean: true,
      credentials,
      signal: stop.signal,
    });
    try {
      // Sent until the device has subscribed to its inbox (an unanswered one times out, 408).
      const set = await waitFor('the device to answer', async () => {
        const r = await http
          .post(`/api/2/things/${id}/inbox/messages/setSetpoint?timeout=1`)
          .send({ value: 19.5 });
        return r.status === 200 ? r : undefined;
      });
      expect(set.body).toEqual({ feature: 'hvac', setpoint: 19.5 });
      const status = await http.post(`/api/2/things/${id}/inbox/messages/getStatus`).send({}).expect(200);
      expect(status.body).toMatchObject({ thingId: id, desired: { hvac: { setpoint: 19.5 } } });
      const unknown = await http.post(`/api/2/things/${id}/inbox/messages/dance`).send({}).expect(501);
      expect(unknown.body).toMatchObject({ error: 'simulator:subject.unknown' });
      const bad = await http
        .post(`/api/2/things/${id}/inbox/messages/setSetpoint`)
        .send({ value: 'warm' })
        .expect(400);
      expect(bad.body).toMatchObject({ error: 'simulator:payload.invalid' });
    } finally {
      stop.abort();
      await fleet;
    }
  });
});

describe('thing descriptions', () => {
  it("refuses Accept: application/td+json with Ditto's error, never the plain thing", async () => {
    const id = `${ns}:td`;
    await http
      .put(`/api/2/things/${id}`)
      .send({ attributes: { a: 1 } })
      .expect(201);
    const res = await http.get(`/api/2/things/${id}`).set('accept', 'application/td+json').expect(400);
    expect(res.body).toMatchObject({ error: 'header.notsupported' });
    await http.get(`/api/2/things/${ns}:td-missing`).set('accept', 'application/td+json').expect(404);
    await http.get(`/api/2/things/${id}`).set('accept', 'application/td+json, application/json').expect(200);
  });
});

// Two replicas on one database and one external broker: the answer reaches the replica that holds
// the request whichever replica the answering WebSocket client is connected to.
(MQTT_TEST_URL ? describe : describe.skip)('two replicas on an external broker', () => {
  let a: Instance;
  let b: Instance;
  let drop: () => Promise<void>;
  const group = `msg-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = () => database.drop();
    const env = (n: string) => ({
      MQTT_URL: MQTT_TEST_URL!,
      MQTT_SHARE_GROUP: group,
      MQTT_CLIENT_ID: `${group}-${n}`,
    });
    a = await startInstance(database.url, env('a'));
    b = await startInstance(database.url, env('b'));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
    // The ingest's persistent sessions would collect traffic on the shared broker forever.
    for (const n of ['a', 'b']) await dropSession(MQTT_TEST_URL!, `${group}-${n}`).catch(() => undefined);
  });

  it('a request on replica A is answered by a WebSocket client of replica B, and by a device', async () => {
    const id = `${ns}:replicas`;
    await request(a.baseUrl).put(`/api/2/things/${id}`).auth('ditto', 'ditto').send({}).expect(201);
    const s = await DittoSocket.open(b.wsUrl);
    await s.control('START-SEND-MESSAGES');
    const device = await mqtt.connectAsync(MQTT_TEST_URL!, {
      clientId: `${id}-dev-${randomUUID().slice(0, 6)}`,
    });
    try {
      const call = request(a.baseUrl)
        .post(`/api/2/things/${id}/inbox/messages/viaWs`)
        .auth('ditto', 'ditto')
        .send({})
        .then((r) => r);
      const got = await waitFor('the message at replica B', () =>
        s.messages.find((m) => m.topic.endsWith('/live/messages/viaWs')),
      );
      s.send(
        JSON.stringify({
          ...got,
          path: '/outbox/messages/viaWs',
          value: 'from B',
          status: 200,
          headers: { 'correlation-id': got.headers['correlation-id'], 'content-type': 'text/plain' },
        }),
      );
      const res = await call;
      expect([res.status, res.text]).toEqual([200, 'from B']);

      await device.subscribeAsync(`things/${id}/inbox/#`, { qos: 1 });
      device.on('message', (topic, payload) => {
        const m = JSON.parse(payload.toString()) as DeviceMessage;
        if (m.subject !== 'viaDevice') return;
        void device.publishAsync(
          topic.replace('/inbox/', '/outbox/'),
          JSON.stringify({ correlationId: m.correlationId, status: 200, payload: 'from device' }),
          { qos: 1 },
        );
      });
      for (const replica of [a, b]) {
        const r = await request(replica.baseUrl)
          .post(`/api/2/things/${id}/inbox/messages/viaDevice`)
          .auth('ditto', 'ditto')
          .send({})
          .expect(200);
        expect(r.text).toBe('from device');
      }
    } finally {
      await s.close();
      await device.endAsync(true);
    }
  });
});
