import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { MqttClient } from 'mqtt';
import request from 'supertest';
import { IngestStats } from '../../src/ingest/ingest-stats.js';
import { authHeaders } from '../support/auth.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import { expectJournalGapFree, expectTwinsEqualTheirReplay } from '../support/journal-invariants.js';
import { startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';
import { DittoSocket, type DittoMessage } from './realtime.support.js';

/**
 * Property-based fuzzing, fixed seed (FUZZ_SEED; FUZZ_RUNS to go further), of what reaches the
 * twins outside REST: Ditto protocol frames on /ws/2 (commands over a few things with fuzzed
 * paths, values and headers, random JSON, text that is no JSON) and MQTT payloads published by
 * authenticated devices on the embedded broker (telemetry, Ditto commands, status).
 * Invariants: no answer is a 5xx or a status-500 envelope, every refusal is in Ditto's error
 * shape, the session and the broker connection stay up, the process answers /health, the
 * journal is gap-free, and every thing the fuzz touched equals the replay of its journal
 * (ThingHistoryService) as REST serves it now.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
/** Per property; FUZZ_RUNS (as for the REST fuzz) scales both. */
const RUNS = Math.max(1, Math.ceil(Number(process.env.FUZZ_RUNS ?? 1200) / 10));
const ns = uniqueNamespace('fuzzx');
const WS_THINGS = ['w1', 'w2', 'w3'].map((n) => `${ns}:${n}`);
const DEVICES = ['d1', 'd2'].map((n) => `${ns}:${n}`);
let t: IngestTestApp;

const nasty = fc.constantFrom(
  '',
  'a\u0000b',
  '\ud800',
  '\udc00x',
  '😀',
  '~1',
  '%',
  '..',
  '*',
  '{{ ~(a|a)+~ }}',
  '{{ ~.*~ }}',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaa!',
  '"',
  '\\',
  'x'.repeat(200),
);
const key = fc.oneof(fc.constantFrom('a', 'b', 'p', 'v'), fc.string({ maxLength: 6 }), nasty);
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e-308, '', 'x', '\u0000', '\ud800'),
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 10 }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(key, tie('value'), { maxKeys: 3 }),
  ),
})).value;
/** JSON text with what JSON.stringify cannot produce: 1e400, NaN, duplicate keys, broken escapes. */
const rawJson = fc.constantFrom(
  '1e400',
  '-1e400',
  '{"v":1e400}',
  'NaN',
  '{"a":1,"a":2}',
  '"\\ud800"',
  '{"\\u0000":1}',
  '{"x":"\\u00"}',
  '[',
  '',
);
const pointer = fc.oneof(
  fc.constantFrom('/', '/attributes', '/features', '/definition', '/policyId'),
  key.map((k) => `/attributes/${k}`),
  fc.tuple(key, key).map(([a, b]) => `/attributes/${a}/${b}`),
  key.map((f) => `/features/${f}`),
  fc.tuple(key, key).map(([f, k]) => `/features/${f}/properties/${k}`),
  fc.tuple(key, key).map(([f, k]) => `/features/${f}/desiredProperties/${k}`),
  fc.string({ maxLength: 12 }),
);
const action = fc.constantFrom('modify', 'merge', 'delete', 'retrieve', 'create');
const wsThing = fc.oneof(
  { arbitrary: fc.constantFrom(...WS_THINGS, ...DEVICES), weight: 6 },
  key.map((n) => `${ns}:${n}`),
);
const optionalHeaders = fc.record(
  {
    'if-match': fc.constantFrom('*', '"rev:1"', 'garbage'),
    'if-none-match': fc.constantFrom('*', 'x'),
    'response-required': fc.constantFrom(true, false, 'maybe'),
    'requested-acks': fc.constantFrom([], ['twin-persisted'], 'x'),
    'content-type': fc.constantFrom('application/merge-patch+json', 'text/plain'),
  },
  { requiredKeys: [] },
);

/** A Ditto protocol command over the fuzzed things, answered under its correlation-id. */
const command = fc
  .tuple(wsThing, action, pointer, fc.option(json, { nil: undefined }), optionalHeaders)
  .map(([id, act, path, value, headers]) => {
    const [namespace, name] = [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)];
    return { topic: `${namespace}/${name}/things/twin/commands/${act}`, path, value, headers };
  });
/** Frames that are not (well-formed) commands: answered with an error or not at all. */
const junk = fc.oneof(
  fc.string({ maxLength: 60 }),
  json.map((v) => JSON.stringify(v) ?? 'null'),
  rawJson,
  fc.constantFrom(
    '{"topic":1}',
    '{"topic":"a/b/things/twin/commands/modify"}',
    `{"topic":"${ns}/w1/things/twin/commands/modify","path":"/attributes/n","value":1e400}`,
    `{"topic":"${ns}/w1/things/twin/commands/merge","path":"/","value":{"attributes":{"a":"\\ud800"}}}`,
    'START-SEND-EVENTS?filter=(',
    'START-SEND-EVENTS?filter=like(attributes/a,"*a*a*a*a*a*a*a*a*a*a*a*b")',
    'START-SEND-EVENTS?namespaces=%',
    'STOP-SEND-EVENTS',
    'START-SEND-MESSAGES',
  ),
);

/** What a device publishes: on its own allowed topics, payloads from plausible to garbage. */
const telemetry = fc
  .record(
    {
      ts: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom('now', '2020-01-01T00:00:00Z')),
      seq: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, 'x')),
      features: fc.dictionary(key, fc.dictionary(key, json, { maxKeys: 3 }), { maxKeys: 2 }),
    },
    { requiredKeys: ['features'] },
  )
  .map((v) => JSON.stringify(v));
const dittoCommand = fc
  .tuple(fc.constantFrom('modify', 'merge', 'delete', 'retrieve'), pointer, json)
  .map(([act, path, value]) => ({ act, path, value }));
const payloadFor = (thingId: string) =>
  fc.oneof(
    { arbitrary: telemetry.map((p) => ({ channel: 'telemetry', payload: p })), weight: 4 },
    {
      arbitrary: dittoCommand.map(({ act, path, value }) => ({
        channel: 'ditto',
        payload: JSON.stringify({
          topic: `${thingId.replace(':', '/')}/things/twin/commands/${act}`,
          path,
          value,
          headers: { 'correlation-id': 'fz' },
        }),
      })),
      weight: 3,
    },
    fc
      .tuple(fc.constantFrom('telemetry', 'ditto', 'status'), fc.oneof(rawJson, fc.string({ maxLength: 40 })))
      .map(([channel, payload]) => ({ channel, payload })),
    fc
      .tuple(fc.constantFrom('telemetry', 'ditto'), fc.uint8Array({ maxLength: 40 }))
      .map(([channel, bytes]) => ({ channel, payload: Buffer.from(bytes) })),
    fc.constantFrom(
      { channel: 'status', payload: 'online' },
      { channel: 'status', payload: 'offline' },
      { channel: 'telemetry', payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) },
    ),
  );

beforeAll(async () => {
  // The embedded broker (MQTT_URL ''), where devices sign in with their provisioned secrets.
  t = await startIngestApp({ MQTT_URL: '', RATE_LIMIT_PER_SECOND: '0' });
  for (const id of WS_THINGS) {
    await request(t.baseUrl)
      .put(`/api/2/things/${id}`)
      .set(authHeaders())
      .send({
        attributes: { a: 1, aaaaaaaaaaaaaaaaaaaaaaaaaaaa: 'x' },
        features: { f: { properties: { p: 1 } } },
      })
      .expect(201);
  }
});
afterAll(async () => {
  await t?.close();
});

function expectNoInternalError(messages: DittoMessage[]): void {
  const bad = messages.filter((m) => typeof m.status === 'number' && m.status >= 500);
  expect(bad).toEqual([]);
  for (const m of messages.filter((x) => typeof x.status === 'number' && x.status >= 400)) {
    expect(m.value).toMatchObject({
      status: m.status,
      error: expect.any(String),
      message: expect.any(String),
    });
  }
}

describe('fuzzing /ws/2 and MQTT (fixed seed)', () => {
  it('answers every WebSocket frame without a 5xx; twins stay equal to their journal replay', async () => {
    const ws = await DittoSocket.open(`${t.baseUrl.replace('http', 'ws')}/ws/2`);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.oneof({ arbitrary: command, weight: 3 }, junk), { maxLength: 6 }),
          async (frames) => {
            const answers: Promise<DittoMessage>[] = [];
            for (const f of frames) {
              if (typeof f === 'string') ws.send(f);
              // Ditto answers nothing to a command that asks for no response.
              else if (f.headers['response-required'] === false) ws.send(JSON.stringify(f));
              else answers.push(ws.command(f));
            }
            for (const a of await Promise.all(answers)) {
              expect(a.status === undefined || a.status < 500).toBe(true);
            }
          },
        ),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
      // The session still serves commands after all of it.
      const answer = await ws.command({ topic: `${ns}/w1/things/twin/commands/retrieve`, path: '/thingId' });
      expect([200, 404]).toContain(answer.status);
      expectNoInternalError(ws.messages);
      expect(ws.closeCode).toBeUndefined();
    } finally {
      await ws.close();
    }
    await request(t.baseUrl).get('/health').expect(200);
    await expectJournalGapFree(t, `${ns}:`);
    expect(await expectTwinsEqualTheirReplay(t, `${ns}:`)).toBeGreaterThanOrEqual(WS_THINGS.length);
  }, 120_000);

  it('takes every device payload (acknowledged or dead-lettered, never lost); twins stay equal to their replay', async () => {
    const secrets = await provisionDevices(t.baseUrl, DEVICES);
    const devices: MqttClient[] = await Promise.all(
      DEVICES.map((id) => connectAs(t.brokerUrl, id, secrets.get(id)!, { reconnectPeriod: 0 })),
    );
    const stats = t.app.get(IngestStats);
    const before = stats.view().messages.received;
    let sent = 0;
    try {
      const message = fc
        .nat({ max: DEVICES.length - 1 })
        .chain((i) => payloadFor(DEVICES[i]).map((m) => ({ device: i, ...m })));
      await fc.assert(
        fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 8 }), async (batch) => {
          // QoS 1: each publish resolves on the PUBACK, which the ingest sends once it committed
          // the message or stored it as a dead letter.
          await Promise.all(
            batch.map((m) =>
              devices[m.device].publishAsync(`things/${DEVICES[m.device]}/${m.channel}`, m.payload, {
                qos: 1,
              }),
            ),
          );
          sent += batch.length;
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
      for (const d of devices) expect(d.connected).toBe(true);
    } finally {
      await Promise.all(devices.map((d) => d.endAsync(true)));
    }
    // Every message is accounted for and none waits any more.
    const { messages } = await waitFor('the ingest to settle', () => {
      const v = stats.view();
      return v.messages.pending === 0 && v.messages.received - before >= sent ? v : undefined;
    });
    expect(messages.received).toBe(
      messages.stored + messages.ignored + messages.deadLettered + messages.refused + messages.pending,
    );
    await request(t.baseUrl).get('/health').expect(200);
    await expectJournalGapFree(t, `${ns}:`);
    expect(await expectTwinsEqualTheirReplay(t, `${ns}:`)).toBeGreaterThanOrEqual(
      WS_THINGS.length + DEVICES.length,
    );
  }, 120_000);
});
