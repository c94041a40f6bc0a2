import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { IngestStats } from '../../src/ingest/ingest-stats.js';
import { authHeaders } from '../support/auth.js';
import { DeviceFleet } from '../support/devices.js';
import { DittoSocket, SseClient, type DittoMessage } from './realtime.support.js';
import {
  MQTT_TEST_URL,
  publish,
  startIngestApp,
  uniqueNamespace,
  waitFor,
  type IngestTestApp,
} from '../support/mqtt.js';

let t: IngestTestApp;
/** One authenticated connection per device, provisioned over REST when first used. */
let fleet: DeviceFleet;
const ns = uniqueNamespace('ingest');
const MAX_PAYLOAD = 2048;

beforeAll(async () => {
  t = await startIngestApp({ INGEST_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD) });
  fleet = new DeviceFleet(t.baseUrl, t.brokerUrl);
});
afterAll(async () => {
  await fleet?.end();
  await t?.close();
});

const telemetry = (thing: string) => `things/${ns}:${thing}/telemetry`;
const dev = (thing: string) => fleet.device(`${ns}:${thing}`);
/** The device a topic belongs to: only it may publish there. */
const deviceOf = (topic: string) => fleet.device(topic.split('/')[1]);

async function thing(id: string) {
  const res = await request(t.baseUrl)
    .get(`/api/2/things/${ns}:${id}`)
    .set(authHeaders())
    .query({ fields: 'thingId,features,_revision,_metadata' });
  return res.status === 200 ? res.body : {};
}

async function historyRows(id: string): Promise<{ path: string; value: unknown; seq: string | null }[]> {
  const { rows } = await t.db.query(
    'SELECT path, value, seq FROM telemetry_readings WHERE thing_id = $1 ORDER BY path, ts, seq',
    [`${ns}:${id}`],
  );
  return rows;
}

async function deadLetters(topic: string) {
  const { rows } = await t.db.query(
    'SELECT reason, message, payload, thing_id FROM ingest_dead_letters WHERE topic = $1',
    [topic],
  );
  return rows;
}

describe('telemetry into history and twins', () => {
  it('stores each leaf as a reading and merges the values into the twin (nested objects are sub-paths)', async () => {
    const ts = Date.now() - 1000;
    await publish(await dev('m1'), telemetry('m1'), {
      ts,
      seq: 1,
      features: { energy: { power: 1250.5, status: { level: 3, mode: 'eco' }, tags: ['a', 'b'] } },
    });
    const doc = await waitFor('the twin', async () => {
      const d = await thing('m1');
      return d.features?.energy?.properties?.status?.mode === 'eco' ? d : undefined;
    });
    expect(doc.features.energy.properties).toEqual({
      power: 1250.5,
      status: { level: 3, mode: 'eco' },
      tags: ['a', 'b'],
    });
    expect(doc._metadata.features.energy.properties.power.ts).toBe(new Date(ts).toISOString());
    expect(await historyRows('m1')).toEqual([
      { path: 'power', value: 1250.5, seq: '1' },
      { path: 'status/level', value: 3, seq: '1' },
      { path: 'status/mode', value: 'eco', seq: '1' },
      { path: 'tags', value: ['a', 'b'], seq: '1' },
    ]);
    // The first message of a device also shows it online (ConnectionStatus, Ditto's convention).
    expect(doc.features.ConnectionStatus.properties.status).toBe('online');
  });

  it('accepts ISO 8601 times and takes the receive time when ts is missing', async () => {
    await publish(await dev('m2'), telemetry('m2'), {
      ts: '2026-01-02T03:04:05.678Z',
      features: { f: { a: 1 } },
    });
    const before = Date.now();
    await publish(await dev('m2'), telemetry('m2'), { features: { f: { b: 2 } } });
    await waitFor('both readings', async () => ((await historyRows('m2')).length === 2 ? true : undefined));
    const { rows } = await t.db.query(
      `SELECT path, ts FROM telemetry_readings WHERE thing_id = $1 ORDER BY path`,
      [`${ns}:m2`],
    );
    expect(rows[0].ts.toISOString()).toBe('2026-01-02T03:04:05.678Z');
    expect(rows[1].ts.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });
});

describe('ordering and duplicates', () => {
  it('a late reading goes into history but never overwrites a newer value on the twin', async () => {
    const now = Date.now();
    await publish(await dev('late'), telemetry('late'), {
      ts: now - 1000,
      seq: 2,
      features: { f: { v: 'newer' } },
    });
    await waitFor(
      'the newer value',
      async () => (await thing('late')).features?.f?.properties?.v === 'newer',
    );
    const revision = (await thing('late'))._revision;
    await publish(await dev('late'), telemetry('late'), {
      ts: now - 5000,
      seq: 1,
      features: { f: { v: 'older', w: 1 } },
    });
    await waitFor('the late reading in history', async () =>
      (await historyRows('late')).length === 3 ? true : undefined,
    );
    const doc = await waitFor('w', async () => {
      const d = await thing('late');
      return d.features?.f?.properties?.w === 1 ? d : undefined;
    });
    // v is stale and dropped; w is new to the twin, so it is applied with its own (older) time.
    expect(doc.features.f.properties.v).toBe('newer');
    expect(doc._revision).toBe(revision + 1);
    expect(t.app.get(IngestStats).stale).toBeGreaterThanOrEqual(1);
  });

  it('an entirely stale message adds history only: no twin change, no revision', async () => {
    const now = Date.now();
    await publish(await dev('stale'), telemetry('stale'), { ts: now, features: { f: { v: 2 } } });
    await waitFor('v=2', async () => (await thing('stale')).features?.f?.properties?.v === 2);
    const before = await thing('stale');
    await publish(await dev('stale'), telemetry('stale'), { ts: now - 60_000, features: { f: { v: 1 } } });
    await waitFor('history', async () => ((await historyRows('stale')).length === 2 ? true : undefined));
    const after = await thing('stale');
    expect(after.features.f.properties.v).toBe(2);
    expect(after._revision).toBe(before._revision);
  });

  it('duplicates (device retries, redeliveries) count once in history and on the twin', async () => {
    const msg = { ts: Date.now() - 500, seq: 7, features: { f: { v: 42 } } };
    const dup = await dev('dup');
    await Promise.all([1, 2, 3].map(() => publish(dup, telemetry('dup'), msg)));
    await waitFor('the twin', async () => (await thing('dup')).features?.f?.properties?.v === 42);
    await publish(await dev('dup'), telemetry('dup'), msg);
    await publish(await dev('dup'), telemetry('dup'), { ts: msg.ts + 1, seq: 8, features: { f: { v: 43 } } });
    await waitFor('v=43', async () => (await thing('dup')).features?.f?.properties?.v === 43);
    expect((await historyRows('dup')).map((r) => r.value)).toEqual([42, 43]);
    const { rows } = await t.db.query(
      `SELECT count(*)::int AS n FROM journal WHERE entity = 'thing' AND thing_id = $1`,
      [`${ns}:dup`],
    );
    // created (by provisioning), the first reading (with presence), then v=43; the repeats journal nothing.
    expect(rows[0].n).toBe(3);
    expect((await thing('dup'))._revision).toBe(3);
  });

  it('of one batch the newest value per leaf wins, whatever the arrival order', async () => {
    const now = Date.now();
    const order = [3, 1, 4, 2, 5, 0];
    const batch = await dev('batch');
    await Promise.all(
      order.map((i) =>
        publish(batch, telemetry('batch'), {
          ts: now - 10_000 + i,
          seq: i,
          features: { f: { v: i } },
        }),
      ),
    );
    await waitFor('all six readings', async () =>
      (await historyRows('batch')).length === 6 ? true : undefined,
    );
    expect((await thing('batch')).features.f.properties.v).toBe(5);
  });
});

const future = () => Date.now() + 3_600_000;
/** [case, topic (thing name or full topic), payload, reason] */
const BAD: [string, string, string | Buffer | (() => string), string][] = [
  ['not JSON', 'telemetry', 'power=5', 'json_invalid'],
  ['not UTF-8', 'telemetry', Buffer.from([0xff, 0xfe, 0x00, 0x7b]), 'json_invalid'],
  ['NaN', 'telemetry', '{"features":{"f":{"v":NaN}}}', 'json_invalid'],
  ['Infinity (1e400)', 'telemetry', '{"features":{"f":{"v":1e400}}}', 'non_finite_number'],
  [
    'over INGEST_MAX_PAYLOAD_BYTES',
    'telemetry',
    JSON.stringify({ features: { f: { v: 'x'.repeat(MAX_PAYLOAD) } } }),
    'payload_too_large',
  ],
  ['features not an object', 'telemetry', '{"features":5}', 'schema_invalid'],
  ['a feature not an object', 'telemetry', '{"features":{"f":[1,2]}}', 'schema_invalid'],
  ['no features', 'telemetry', '{"ts":1}', 'schema_invalid'],
  ['a payload that is an array', 'telemetry', '[1,2]', 'schema_invalid'],
  ['ts of the wrong type', 'telemetry', '{"ts":true,"features":{"f":{"v":1}}}', 'schema_invalid'],
  ['ts not a time', 'telemetry', '{"ts":"yesterday","features":{"f":{"v":1}}}', 'schema_invalid'],
  ['ts a fraction', 'telemetry', '{"ts":1.5,"features":{"f":{"v":1}}}', 'schema_invalid'],
  ['seq negative', 'telemetry', '{"seq":-1,"features":{"f":{"v":1}}}', 'schema_invalid'],
  ['seq a fraction', 'telemetry', '{"seq":1.5,"features":{"f":{"v":1}}}', 'schema_invalid'],
  ['an unknown field', 'telemetry', '{"feature":{"f":{"v":1}}}', 'schema_invalid'],
  ['a bad feature id', 'telemetry', '{"features":{"*":{"v":1}}}', 'schema_invalid'],
  ['a NUL in a string', 'telemetry', '{"features":{"f":{"v":"a\\u0000b"}}}', 'schema_invalid'],
  [
    'properties nested deeper than 64 levels',
    'telemetry',
    `{"features":{"f":${'{"a":'.repeat(70)}1${'}'.repeat(70)}}}`,
    'schema_invalid',
  ],
  [
    'ts too far in the future',
    'telemetry',
    () => JSON.stringify({ ts: future(), features: { f: { v: 1 } } }),
    'timestamp_in_future',
  ],
  ['an invalid thing id', 'things/no-namespace/telemetry', '{"features":{"f":{"v":1}}}', 'thing_id_invalid'],
  ['a topic outside the contract', 'things/{id}/events', '{}', 'topic_unknown'],
  ['a topic too deep', 'things/{id}/telemetry/extra', '{}', 'topic_unknown'],
  ['a status that is neither online nor offline', 'status', 'maybe', 'schema_invalid'],
  [
    'a Ditto command for another thing',
    'ditto',
    '{"topic":"other/thing/things/twin/commands/modify","path":"/attributes","value":{}}',
    'schema_invalid',
  ],
  [
    'a Ditto command that is not one',
    'ditto',
    '{"topic":"x/y/things/twin/events/modified"}',
    'schema_invalid',
  ],
];

/** Topics no device owns: refused by the embedded broker, dead letters behind an open one. */
const OUTSIDE_OWN_TOPICS = new Set([
  'things/no-namespace/telemetry',
  'things/{id}/events',
  'things/{id}/telemetry/extra',
]);

describe('bad input goes to the dead-letter table, is acknowledged, and ingestion carries on', () => {
  it.each(BAD)('%s', async (_name, where, payload, reason) => {
    const id = `bad-${Math.random().toString(36).slice(2, 8)}`;
    const topic = where.includes('/') ? where.replace('{id}', `${ns}:${id}`) : `things/${ns}:${id}/${where}`;
    const body = typeof payload === 'function' ? payload() : payload;
    const device = await dev(id);
    if (OUTSIDE_OWN_TOPICS.has(where) && !MQTT_TEST_URL) {
      // The embedded broker lets a device publish only on its own topics: it closes the
      // connection instead (devices.e2e.spec.ts covers the rules); the test Mosquitto is anonymous.
      const refused = t.app.get(IngestStats).refusedPublishes;
      const gone = new Promise<void>((ok) => device.once('close', () => ok()));
      device.publish(topic, body, { qos: 1 });
      await gone;
      device.end(true);
      expect(t.app.get(IngestStats).refusedPublishes).toBe(refused + 1);
      expect(await deadLetters(topic)).toEqual([]);
      return;
    }
    await publish(device, topic, body);
    const [letter] = await waitFor('the dead letter', async () => {
      const rows = await deadLetters(topic);
      return rows.length > 0 ? rows : undefined;
    });
    expect(letter.reason).toBe(reason);
    expect(letter.message.length).toBeGreaterThan(0);
    const raw = Buffer.isBuffer(body) ? body : Buffer.from(body);
    expect(Buffer.compare(letter.payload, raw.subarray(0, MAX_PAYLOAD))).toBe(0);
    if (reason !== 'thing_id_invalid' && reason !== 'topic_unknown')
      expect(letter.thing_id).toBe(`${ns}:${id}`);
    // Nothing of it reached history or a twin.
    expect(await historyRows(id)).toEqual([]);
  });

  it('a command the twin refuses is a dead letter too (command_rejected), the rest of its batch commits', async () => {
    const topic = `things/${ns}:rejected/ditto`;
    await publish(await dev('rejected'), telemetry('rejected'), { features: { f: { v: 1 } } });
    await publish(await deviceOf(topic), topic, {
      topic: `${ns}/rejected/things/twin/commands/modify`,
      path: '/attributes',
      value: 'not an object',
    });
    const [letter] = await waitFor('the dead letter', async () => {
      const rows = await deadLetters(topic);
      return rows.length > 0 ? rows : undefined;
    });
    expect(letter.reason).toBe('command_rejected');
    expect((await thing('rejected')).features.f.properties.v).toBe(1);
  });

  it('after all of them, a good reading still lands and every message was acknowledged', async () => {
    await publish(await dev('after'), telemetry('after'), { features: { f: { ok: true } } });
    await waitFor(
      'the good reading',
      async () => (await thing('after')).features?.f?.properties?.ok === true,
    );
    const stats = t.app.get(IngestStats);
    await waitFor('every received message acknowledged', () => stats.acknowledged === stats.received);
    // On the embedded broker the topics no device owns were refused, not dead-lettered.
    const refused = MQTT_TEST_URL ? 0 : OUTSIDE_OWN_TOPICS.size;
    expect(stats.view().deadLetters.total).toBeGreaterThanOrEqual(BAD.length + 1 - refused);
  });
});

describe('Ditto protocol commands', () => {
  it('modify and merge of the thing or a sub-path go through the twin service', async () => {
    const topic = `things/${ns}:cmd/ditto`;
    // Beyond its features a device's command needs its policy to name it (device:<thingId>).
    await dev('cmd');
    await request(t.baseUrl)
      .put(`/api/2/policies/${ns}:cmd/entries/DEVICE`)
      .set(authHeaders())
      .send({
        subjects: { [`device:${ns}:cmd`]: { type: 'device' } },
        resources: { 'thing:/': { grant: ['WRITE'], revoke: [] } },
      })
      .expect(201);
    await publish(await deviceOf(topic), topic, {
      topic: `${ns}/cmd/things/twin/commands/modify`,
      headers: { 'correlation-id': 'c-1' },
      path: '/',
      value: { attributes: { location: 'hall' }, features: { lamp: { properties: { on: false } } } },
    });
    await publish(await deviceOf(topic), topic, {
      topic: `${ns}/cmd/things/twin/commands/merge`,
      path: '/features/lamp/properties',
      value: { on: true, level: 80 },
    });
    await waitFor('the merge', async () => (await thing('cmd')).features?.lamp?.properties?.level === 80);
    const res = await request(t.baseUrl).get(`/api/2/things/${ns}:cmd`).set(authHeaders()).expect(200);
    expect(res.body.attributes).toEqual({ location: 'hall' });
    expect(res.body.features.lamp.properties).toEqual({ on: true, level: 80 });
    const { rows } = await t.db.query(
      `SELECT origin, correlation_id FROM journal WHERE entity = 'thing' AND thing_id = $1 ORDER BY revision`,
      [`${ns}:cmd`],
    );
    // Created over REST by provisioning; every change after that came from the device.
    expect(rows[0].origin).toBe('rest');
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.slice(1).every((r) => r.origin === 'mqtt')).toBe(true);
    expect(rows.map((r) => r.correlation_id)).toContain('c-1');
  });
});

interface EventThing {
  features?: { energy?: unknown };
  _metadata?: { features?: Record<string, unknown> };
}

describe('`_metadata` in events: the source times of the leaves each change wrote', () => {
  it('reach an SSE subscriber (fields) and a WS subscriber (extraFields) after an MQTT reading and a REST change', async () => {
    const id = `${ns}:meta-events`;
    const device = await dev('meta-events');
    const sse = await SseClient.open(
      `${t.baseUrl}/api/2/things?ids=${encodeURIComponent(id)}&fields=thingId,features/energy,_metadata`,
    );
    const ws = await DittoSocket.open(t.baseUrl.replace('http', 'ws') + '/ws/2');
    try {
      await ws.control(
        `START-SEND-EVENTS?filter=${encodeURIComponent(`eq(thingId,"${id}")`)}&extraFields=_metadata`,
      );
      const energyEvents = () =>
        sse.events
          .map((e) => JSON.parse(e.data) as EventThing)
          .filter((e) => e.features?.energy !== undefined);
      const wsEnergy = () =>
        ws.events.filter(
          (m: DittoMessage) =>
            m.path.endsWith('/power') || JSON.stringify(m.value ?? null).includes('"power"'),
        );

      // A reading carries the device's time: that, not the time it arrived, is the leaf's time.
      const deviceTime = Date.now() - 60_000;
      await publish(device, telemetry('meta-events'), {
        ts: deviceTime,
        features: { energy: { power: 11 } },
      });
      const readAt = new Date(deviceTime).toISOString();
      const [fromMqtt] = await waitFor(
        'the reading over SSE',
        () => energyEvents().length === 1 && energyEvents(),
      );
      // The same change also set the device's ConnectionStatus (it came online), timed alike.
      expect(fromMqtt.features).toEqual({ energy: { properties: { power: 11 } } });
      expect(fromMqtt._metadata?.features?.energy).toEqual({ properties: { power: { ts: readAt } } });
      const [wsMqtt] = await waitFor('the reading over WS', () => wsEnergy().length === 1 && wsEnergy());
      const wsExtra = wsMqtt.extra as EventThing;
      expect(wsExtra._metadata?.features?.energy).toEqual({ properties: { power: { ts: readAt } } });

      // A REST change is timed when it is written: its time is the thing's `_metadata` after it.
      const res = await request(t.baseUrl)
        .put(`/api/2/things/${id}/features/energy/properties/power`)
        .set(authHeaders())
        .set('content-type', 'application/json')
        .send('12');
      expect(res.status).toBe(204);
      const written = (await thing('meta-events'))._metadata.features.energy.properties.power.ts as string;
      expect(Date.parse(written)).toBeGreaterThan(deviceTime);
      const [, fromRest] = await waitFor(
        'the change over SSE',
        () => energyEvents().length === 2 && energyEvents(),
      );
      expect(fromRest).toEqual({
        thingId: id,
        features: { energy: { properties: { power: 12 } } },
        _metadata: { features: { energy: { properties: { power: { ts: written } } } } },
      });
      const [, wsRest] = await waitFor('the change over WS', () => wsEnergy().length === 2 && wsEnergy());
      expect(wsRest).toMatchObject({ path: '/features/energy/properties/power', value: 12 });
      expect(wsRest.extra).toEqual({
        _metadata: { features: { energy: { properties: { power: { ts: written } } } } },
      });
    } finally {
      sse.close();
      await ws.close();
    }
  });
});

describe('HTTP: dead letters and stats', () => {
  it('lists dead letters newest first, paged, filtered by thing, payload as text or base64', async () => {
    const id = `${ns}:listed`;
    await publish(await fleet.device(id), `things/${id}/telemetry`, 'one');
    await publish(await fleet.device(id), `things/${id}/telemetry`, Buffer.from([0xff, 0x01]));
    await publish(await fleet.device(id), `things/${id}/telemetry`, 'three');
    await waitFor('three dead letters', async () => {
      const { rows } = await t.db.query(
        'SELECT count(*)::int AS n FROM ingest_dead_letters WHERE thing_id = $1',
        [id],
      );
      return rows[0].n === 3 ? true : undefined;
    });
    const first = await request(t.baseUrl)
      .get('/api/2/ingest/dead-letters')
      .set(authHeaders())
      .query({ thingId: id, limit: 2 })
      .expect(200);
    expect(first.body.items.map((i: { payload: string }) => i.payload)).toEqual([
      'three',
      Buffer.from([0xff, 0x01]).toString('base64'),
    ]);
    expect(first.body.items[1].payloadEncoding).toBe('base64');
    expect(first.body.items[0]).toMatchObject({
      topic: `things/${id}/telemetry`,
      reason: 'json_invalid',
      thingId: id,
    });
    const second = await request(t.baseUrl)
      .get('/api/2/ingest/dead-letters')
      .set(authHeaders())
      .query({ thingId: id, limit: 2, cursor: first.body.cursor })
      .expect(200);
    expect(second.body.items.map((i: { payload: string }) => i.payload)).toEqual(['one']);
    expect(second.body.cursor).toBeUndefined();
  });

  it('refuses bad parameters with Ditto error JSON', async () => {
    for (const query of [{ limit: '0' }, { limit: 'x' }, { cursor: '!!' }, { thingId: 'nope' }]) {
      const res = await request(t.baseUrl)
        .get('/api/2/ingest/dead-letters')
        .set(authHeaders())
        .query(query)
        .expect(400);
      expect(res.body).toMatchObject({ status: 400, error: 'ingest:query.invalid' });
    }
  });

  it('shows the counters', async () => {
    const res = await request(t.baseUrl).get('/api/2/ingest/stats').set(authHeaders()).expect(200);
    expect(res.body).toMatchObject({ brokerConnected: true, brokerUrl: t.brokerUrl });
    for (const key of ['received', 'committedReadings', 'duplicates', 'stale', 'batches']) {
      expect(res.body[key]).toBeGreaterThan(0);
    }
    expect(res.body.deadLetters).toMatchObject({
      json_invalid: expect.any(Number),
      total: expect.any(Number),
    });
    expect(res.body.deadLetters.json_invalid).toBeGreaterThan(0);
  });
});
