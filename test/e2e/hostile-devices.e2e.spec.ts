import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import request from 'supertest';
import { authHeaders } from '../support/auth.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import { publish, startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';

/**
 * Hostile devices on the embedded broker, as a table: each case does one hostile thing with real
 * MQTT clients and states what a user sees happen: a refused CONNECT (with its CONNACK code), a
 * refused subscription (SUBACK 0x80), a closed connection (MQTT 3.1.1 has no negative PUBACK), or
 * an acknowledged message that became a dead letter with a reason. After every case, the twins
 * of the victim and of the attacker are read over REST and must be exactly as before (same
 * revision), and the stats over REST must have counted the refusal. At the end every message the
 * ingest took is accounted for: received = stored + ignored + dead-lettered + refused + pending.
 */
const MAX_PACKET = 8192;
const MAX_PAYLOAD = 2048;
const ns = uniqueNamespace('hostile');
const attacker = `${ns}:attacker`;
const victim = `${ns}:victim`;
const rotated = `${ns}:rotated`;
const flooder = `${ns}:flooder`;
let t: IngestTestApp;
let secrets: Map<string, string>;
let oldSecret: string;
const victimDesired: string[] = [];
let victimClient: MqttClient;

beforeAll(async () => {
  t = await startIngestApp({
    MQTT_URL: '',
    INGEST_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
    MQTT_MAX_PACKET_BYTES: String(MAX_PACKET),
    MQTT_MAX_RETAINED_PER_DEVICE: '1',
    DEVICE_SECRET_GRACE_SECONDS: '1',
    // No presence sweeps: a twin changes only through what a case sends.
    DEVICE_INACTIVITY_TIMEOUT: '0',
  });
  secrets = await provisionDevices(t.baseUrl, [attacker, victim, rotated, flooder]);
  // The victim's twin as a user set it up.
  await request(t.baseUrl)
    .put(`/api/2/things/${victim}/features/f`)
    .set(authHeaders())
    .send({ properties: { v: 'original' } })
    .expect(201);
  await request(t.baseUrl)
    .put(`/api/2/things/${victim}/attributes`)
    .set(authHeaders())
    .send({ owner: 'victim' })
    .expect(201);
  // A rotation whose grace period (1 s) is over by the time the cases run.
  oldSecret = secrets.get(rotated)!;
  const renewed = await request(t.baseUrl)
    .put(`/api/2/things/${rotated}/credentials`)
    .set(authHeaders())
    .expect(200);
  secrets.set(rotated, renewed.body.secret as string);
  // The attacker has said it is online: any well-formed message it sends later is implicit
  // evidence of that, which then changes nothing.
  const a = await connectAs(t.brokerUrl, attacker, secrets.get(attacker)!);
  await publish(a, `things/${attacker}/status`, 'online');
  await a.endAsync();
  // The victim listens to its desired state: nobody but the platform may put anything there.
  victimClient = await connectAs(t.brokerUrl, victim, secrets.get(victim)!);
  victimClient.on('message', (topic, payload) => victimDesired.push(`${topic} ${payload.toString()}`));
  await victimClient.subscribeAsync(`things/${victim}/desired`, { qos: 1 });
  await new Promise((ok) => setTimeout(ok, 1500));
});
afterAll(async () => {
  await victimClient?.endAsync(true);
  await t?.close();
});

interface Stats {
  refusedConnects: number;
  refusedPublishes: number;
  refusedSubscribes: number;
  brokerConnected: boolean;
  refused: Record<string, number>;
  deadLetters: Record<string, number>;
  messages: Record<'received' | 'stored' | 'ignored' | 'deadLettered' | 'refused' | 'pending', number>;
}

async function stats(): Promise<Stats> {
  return (await request(t.baseUrl).get('/api/2/ingest/stats').set(authHeaders()).expect(200)).body as Stats;
}

async function twin(thingId: string): Promise<unknown> {
  const res = await request(t.baseUrl)
    .get(`/api/2/things/${thingId}`)
    .query({ fields: 'thingId,policyId,attributes,features,_revision' })
    .set(authHeaders());
  return { status: res.status, body: res.body as unknown };
}

const creds = (thingId: string, secret = secrets.get(thingId)!): IClientOptions => ({
  clientId: thingId,
  username: thingId,
  password: secret,
});

/** 'connected', or mqtt.js' CONNACK refusal. */
function connectOutcome(opts: IClientOptions): Promise<string> {
  const c = mqtt.connect(t.brokerUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  return new Promise<string>((ok) => {
    c.once('connect', () => ok('connected'));
    c.once('error', (err) => ok(err.message));
    c.once('close', () => ok('closed'));
  }).finally(() => c.end(true));
}

/** The attacker subscribes to `filter`: the granted QoS, 128 when refused. */
async function subscribeOutcome(filter: string): Promise<number> {
  const c = await mqtt.connectAsync(t.brokerUrl, { ...creds(attacker), reconnectPeriod: 0 });
  try {
    return await c.subscribeAsync(filter, { qos: 1 }).then(
      (g) => g[0].qos,
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1,
    );
  } finally {
    await c.endAsync(true);
  }
}

/** `device` publishes QoS 1: 'acked' on a PUBACK, 'closed' when the broker closes the connection. */
async function publishOutcome(
  device: string,
  topic: string,
  payload: string | Buffer,
  retain = false,
): Promise<'acked' | 'closed'> {
  const c = await mqtt.connectAsync(t.brokerUrl, { ...creds(device), reconnectPeriod: 0 });
  const closed = new Promise<'closed'>((ok) => c.once('close', () => ok('closed')));
  const acked = c.publishAsync(topic, payload, { qos: 1, retain }).then(
    () => 'acked' as const,
    () => 'closed' as const,
  );
  const outcome = await Promise.race([acked, closed]);
  await c.endAsync(true);
  return outcome;
}

const json = (v: unknown) => JSON.stringify(v);
const reading = (v: unknown) => json({ features: { f: { v } } });
const deep = (levels: number) => `{"features":{"f":{"v":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}}}`;
const command = (thingId: string, path: string, value: unknown, action = 'modify') =>
  json({ topic: `${thingId.replace(':', '/')}/things/twin/commands/${action}`, path, value });

type Outcome =
  | { connack: RegExp }
  | { suback: 128 }
  | { closed: 'refusedPublishes' | 'packet_too_large' | 'retained_per_device' }
  | { deadLetter: string };

interface Case {
  name: string;
  expected: Outcome;
  run: () => Promise<string | number>;
}

const BAD_CREDENTIALS = /Bad username or password/;
const ID_REJECTED = /Identifier rejected/;
const NOT_AUTHORIZED = /Not authorized/;
const will = (topic: string) => ({
  will: { topic, payload: Buffer.from('offline'), qos: 1 as const, retain: true },
});
const own = (channel: string) => `things/${attacker}/${channel}`;

const CASES: Case[] = [
  // CONNECT
  {
    name: 'no credentials',
    expected: { connack: BAD_CREDENTIALS },
    run: () => connectOutcome({ clientId: 'anon-1' }),
  },
  {
    name: 'wrong secret',
    expected: { connack: BAD_CREDENTIALS },
    run: () => connectOutcome(creds(attacker, 'wrong-secret-0123456789')),
  },
  {
    name: 'empty password',
    expected: { connack: BAD_CREDENTIALS },
    run: () => connectOutcome(creds(attacker, '')),
  },
  {
    name: 'the victim’s secret under the attacker’s name',
    expected: { connack: BAD_CREDENTIALS },
    run: () => connectOutcome(creds(attacker, secrets.get(victim))),
  },
  {
    name: 'the attacker’s secret under the victim’s name',
    expected: { connack: BAD_CREDENTIALS },
    run: () => connectOutcome(creds(victim, secrets.get(attacker))),
  },
  {
    name: 'a rotated-out secret after the grace period',
    expected: { connack: BAD_CREDENTIALS },
    run: () => connectOutcome(creds(rotated, oldSecret)),
  },
  {
    name: 'the victim’s client id with the attacker’s credentials (session takeover)',
    expected: { connack: ID_REJECTED },
    run: () => connectOutcome({ ...creds(attacker), clientId: victim, clean: true }),
  },
  {
    name: 'the platform’s client id with clean: true',
    expected: { connack: ID_REJECTED },
    run: () => connectOutcome({ ...creds(attacker), clientId: t.clientId, clean: true }),
  },
  {
    name: 'the platform’s user name with a guessed secret',
    expected: { connack: BAD_CREDENTIALS },
    run: () => connectOutcome({ clientId: t.clientId, username: '$platform', password: 'guess-0123456789' }),
  },
  {
    name: 'a user name that is no thing id',
    expected: { connack: BAD_CREDENTIALS },
    run: () => connectOutcome({ clientId: 'admin', username: 'admin', password: 'admin-0123456789' }),
  },
  {
    name: 'a wildcard thing id as user name',
    expected: { connack: BAD_CREDENTIALS },
    run: () => connectOutcome({ clientId: `${ns}:#`, username: `${ns}:#`, password: 'x-0123456789abcdef' }),
  },
  {
    name: 'a Last Will on the victim’s status',
    expected: { connack: NOT_AUTHORIZED },
    run: () => connectOutcome({ ...creds(attacker), ...will(`things/${victim}/status`) }),
  },
  {
    name: 'a Last Will on the victim’s desired state',
    expected: { connack: NOT_AUTHORIZED },
    run: () => connectOutcome({ ...creds(attacker), ...will(`things/${victim}/desired`) }),
  },
  {
    name: 'a Last Will on its own telemetry',
    expected: { connack: NOT_AUTHORIZED },
    run: () => connectOutcome({ ...creds(attacker), ...will(own('telemetry')) }),
  },
  // SUBSCRIBE
  { name: 'subscribe #', expected: { suback: 128 }, run: () => subscribeOutcome('#') },
  {
    name: 'subscribe things/+/desired',
    expected: { suback: 128 },
    run: () => subscribeOutcome('things/+/desired'),
  },
  { name: 'subscribe $SYS/#', expected: { suback: 128 }, run: () => subscribeOutcome('$SYS/#') },
  { name: 'subscribe things/#', expected: { suback: 128 }, run: () => subscribeOutcome('things/#') },
  {
    name: 'subscribe the victim’s desired state',
    expected: { suback: 128 },
    run: () => subscribeOutcome(`things/${victim}/desired`),
  },
  {
    name: 'subscribe the victim’s telemetry',
    expected: { suback: 128 },
    run: () => subscribeOutcome(`things/${victim}/telemetry`),
  },
  {
    name: 'subscribe its own things/<id>/#',
    expected: { suback: 128 },
    run: () => subscribeOutcome(own('#')),
  },
  // PUBLISH outside its own topics: the connection closes, nothing is acknowledged
  {
    name: 'spoofed telemetry of the victim',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, `things/${victim}/telemetry`, reading('spoofed')),
  },
  {
    name: 'retained desired state on the victim’s topic',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, `things/${victim}/desired`, json({ f: { v: 'evil' } }), true),
  },
  {
    name: 'the victim set offline through its status topic',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, `things/${victim}/status`, 'offline', true),
  },
  {
    name: 'a ditto command on the victim’s topic',
    expected: { closed: 'refusedPublishes' },
    run: () =>
      publishOutcome(attacker, `things/${victim}/ditto`, command(victim, '/attributes/owner', 'attacker')),
  },
  {
    name: 'publishing its own desired state',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, own('desired'), json({ f: { v: 1 } }), true),
  },
  {
    name: 'publishing to $SYS',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, '$SYS/broker/uptime', '0'),
  },
  {
    name: 'NUL after its own topic',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, `${own('telemetry')}\u0000`, reading(1)),
  },
  {
    name: 'NUL inside the thing id of the topic',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, `things/${attacker}\u0000x/telemetry`, reading(1)),
  },
  {
    name: 'a unicode look-alike channel',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, own('télémetry'), reading(1)),
  },
  {
    name: 'an extra topic level',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, `${own('telemetry')}/x`, reading(1)),
  },
  {
    name: 'auto-creating another thing by its topic',
    expected: { closed: 'refusedPublishes' },
    run: () => publishOutcome(attacker, `things/${ns}:created-by-attacker/telemetry`, reading(1)),
  },
  {
    name: 'a packet larger than MQTT_MAX_PACKET_BYTES',
    expected: { closed: 'packet_too_large' },
    run: () => publishOutcome(attacker, own('telemetry'), Buffer.alloc(MAX_PACKET * 3, 0x20)),
  },
  {
    name: 'retained messages beyond MQTT_MAX_RETAINED_PER_DEVICE',
    expected: { closed: 'retained_per_device' },
    run: async () => {
      // Its first retained message is within the bound (and changes only its own twin).
      expect(await publishOutcome(flooder, `things/${flooder}/status`, 'online', true)).toBe('acked');
      return publishOutcome(flooder, `things/${flooder}/telemetry`, reading(1), true);
    },
  },
  // PUBLISH on its own topics that the platform cannot take: acknowledged, dead-lettered
  {
    name: 'invalid JSON',
    expected: { deadLetter: 'json_invalid' },
    run: () => publishOutcome(attacker, own('telemetry'), '{"features":'),
  },
  {
    name: 'not UTF-8',
    expected: { deadLetter: 'json_invalid' },
    run: () => publishOutcome(attacker, own('telemetry'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
  },
  {
    name: 'JSON nested 100 deep',
    expected: { deadLetter: 'schema_invalid' },
    run: () => publishOutcome(attacker, own('telemetry'), deep(100)),
  },
  {
    name: 'a huge array beyond INGEST_MAX_PAYLOAD_BYTES',
    expected: { deadLetter: 'payload_too_large' },
    run: () => publishOutcome(attacker, own('telemetry'), reading(new Array(MAX_PAYLOAD).fill(0))),
  },
  {
    name: 'NUL in a value',
    expected: { deadLetter: 'schema_invalid' },
    run: () => publishOutcome(attacker, own('telemetry'), '{"features":{"f":{"v":"a\\u0000b"}}}'),
  },
  {
    name: 'a lone surrogate in a key',
    expected: { deadLetter: 'schema_invalid' },
    run: () => publishOutcome(attacker, own('telemetry'), '{"features":{"f":{"\\udc00":1}}}'),
  },
  {
    name: 'a number beyond double range',
    expected: { deadLetter: 'non_finite_number' },
    run: () => publishOutcome(attacker, own('telemetry'), '{"features":{"f":{"v":1e400}}}'),
  },
  {
    name: 'ts 0',
    expected: { deadLetter: 'timestamp_too_old' },
    run: () => publishOutcome(attacker, own('telemetry'), json({ ts: 0, features: { f: { v: 1 } } })),
  },
  {
    name: 'ts -1',
    expected: { deadLetter: 'timestamp_too_old' },
    run: () => publishOutcome(attacker, own('telemetry'), json({ ts: -1, features: { f: { v: 1 } } })),
  },
  {
    name: 'ts far in the future',
    expected: { deadLetter: 'timestamp_in_future' },
    run: () =>
      publishOutcome(
        attacker,
        own('telemetry'),
        json({ ts: '2999-01-01T00:00:00Z', features: { f: { v: 1 } } }),
      ),
  },
  {
    name: 'a ditto command changing its policyId',
    expected: { deadLetter: 'command_rejected' },
    run: () => publishOutcome(attacker, own('ditto'), command(attacker, '/policyId', victim)),
  },
  {
    name: 'a ditto merge of the whole thing setting its policyId',
    expected: { deadLetter: 'command_rejected' },
    run: () => publishOutcome(attacker, own('ditto'), command(attacker, '/', { policyId: victim }, 'merge')),
  },
  {
    name: 'a ditto command writing its attributes (not granted)',
    expected: { deadLetter: 'command_rejected' },
    run: () => publishOutcome(attacker, own('ditto'), command(attacker, '/attributes/owner', 'me')),
  },
  {
    name: 'a ditto command for the victim sent on its own topic',
    expected: { deadLetter: 'schema_invalid' },
    run: () => publishOutcome(attacker, own('ditto'), command(victim, '/features/f/properties/v', 'spoofed')),
  },
  {
    name: 'a status that is neither online nor offline',
    expected: { deadLetter: 'schema_invalid' },
    run: () => publishOutcome(attacker, own('status'), 'x'.repeat(300)),
  },
];

async function deadLetterIds(): Promise<Set<string>> {
  const res = await request(t.baseUrl)
    .get('/api/2/ingest/dead-letters?limit=1000')
    .set(authHeaders())
    .expect(200);
  return new Set((res.body.items as { id: string }[]).map((l) => l.id));
}

describe('hostile devices on the embedded broker', () => {
  it('has at least 30 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = await stats();
    const victimBefore = await twin(victim);
    const attackerBefore = await twin(attacker);
    const lettersBefore = await deadLetterIds();
    const outcome = await c.run();
    const after = await stats();
    const e = c.expected;
    if ('connack' in e) {
      expect(outcome).toMatch(e.connack);
      expect(after.refusedConnects - before.refusedConnects).toBe(1);
    } else if ('suback' in e) {
      expect(outcome).toBe(e.suback);
      expect(after.refusedSubscribes - before.refusedSubscribes).toBe(1);
    } else if ('closed' in e) {
      expect(outcome).toBe('closed');
      const counted =
        e.closed === 'refusedPublishes'
          ? after.refusedPublishes - before.refusedPublishes
          : after.refused[e.closed] - before.refused[e.closed];
      expect(counted).toBe(1);
    } else {
      // Acknowledged: committed as a dead letter with its reason, visible over REST.
      expect(outcome).toBe('acked');
      const res = await request(t.baseUrl)
        .get('/api/2/ingest/dead-letters?limit=50')
        .set(authHeaders())
        .expect(200);
      const fresh = (res.body.items as { id: string; reason: string; topic: string }[]).filter(
        (l) => !lettersBefore.has(l.id),
      );
      expect(fresh.map((l) => [l.reason, l.topic])).toEqual([
        [e.deadLetter, expect.stringContaining(attacker)],
      ]);
      expect(after.deadLetters[e.deadLetter] - before.deadLetters[e.deadLetter]).toBe(1);
    }
    // Nothing changed: neither twin moved a revision, no thing appeared.
    expect(await twin(victim)).toEqual(victimBefore);
    expect(await twin(attacker)).toEqual(attackerBefore);
    expect((await twin(`${ns}:created-by-attacker`)) as { status: number }).toMatchObject({ status: 404 });
  });

  it('left the platform’s session connected and the victim working, its desired state untouched', async () => {
    expect((await stats()).brokerConnected).toBe(true);
    // Only the platform publishes there (the victim's empty desired state); nothing of the attacker's.
    expect(victimDesired.filter((m) => m.includes('evil'))).toEqual([]);
    await publish(victimClient, `things/${victim}/telemetry`, { features: { f: { v: 'still mine' } } });
    const res = await request(t.baseUrl)
      .get(`/api/2/things/${victim}/features/f/properties/v`)
      .set(authHeaders());
    expect(res.body).toBe('still mine');
  });

  it('accounts for every message the ingest took: received = stored + ignored + dead-lettered + refused + pending', async () => {
    const m = await waitFor('nothing pending', async () => {
      const s = await stats();
      return s.messages.pending === 0 ? s.messages : undefined;
    });
    expect(m.deadLettered).toBeGreaterThanOrEqual(CASES.filter((c) => 'deadLetter' in c.expected).length);
    expect(m.received).toBe(m.stored + m.ignored + m.deadLettered + m.refused + m.pending);
  });
});
