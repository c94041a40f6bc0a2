import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import request from 'supertest';
import { authHeaders, TEST_USERS, type TestUserName } from '../support/auth.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import { publish, startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';

/**
 * Device identity on the embedded broker (MQTT_URL: '' forces it even when the suite runs against
 * Mosquitto, whose access rules are deploy/mosquitto's and tested in mosquitto-acl.spec.ts).
 */
const GRACE_SECONDS = 2;
const ns = uniqueNamespace('devices');
let t: IngestTestApp;

beforeAll(async () => {
  t = await startIngestApp({ MQTT_URL: '', DEVICE_SECRET_GRACE_SECONDS: String(GRACE_SECONDS) });
});
afterAll(async () => {
  await t?.close();
});

const as = (user: TestUserName) => {
  const { username, password } = TEST_USERS[user];
  return {
    put: (path: string) => request(t.baseUrl).put(path).auth(username, password),
    get: (path: string) => request(t.baseUrl).get(path).auth(username, password),
    post: (path: string) => request(t.baseUrl).post(path).auth(username, password),
    delete: (path: string) => request(t.baseUrl).delete(path).auth(username, password),
  };
};

const stats = async () =>
  (await request(t.baseUrl).get('/api/2/ingest/stats').set(authHeaders()).expect(200)).body;

/** The CONNACK outcome: 'connected' or mqtt.js' refusal (e.g. "Connection refused: Bad username or password"). */
async function tryConnect(opts: IClientOptions): Promise<string> {
  try {
    const c = await mqtt.connectAsync(t.brokerUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    await c.endAsync(true);
    return 'connected';
  } catch (err) {
    return (err as Error).message;
  }
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((ok) => client.once('close', () => ok()));
}

describe('credentials over REST', () => {
  const id = `${ns}:crud`;

  beforeAll(async () => {
    await as('alice').put(`/api/2/things/${id}`).send({}).expect(201);
  });

  it('creates with a generated secret shown once, never readable back, rotates and deletes', async () => {
    const created = await as('alice').put(`/api/2/things/${id}/credentials`).expect(201);
    expect(created.body).toEqual({
      thingId: id,
      created: expect.any(String),
      rotated: null,
      previousSecretValidUntil: null,
      secret: expect.stringMatching(/^[\w-]{43}$/),
    });
    const read = await as('alice').get(`/api/2/things/${id}/credentials`).expect(200);
    expect(read.body).toEqual({
      thingId: id,
      created: created.body.created,
      rotated: null,
      previousSecretValidUntil: null,
    });
    expect(read.text).not.toContain(created.body.secret);
    expect(read.text).not.toContain('scrypt');

    // A chosen secret: 200 (a rotation), not echoed; the previous secret is in its grace period.
    const chosen = 'my-chosen-secret-0123456789';
    const rotated = await as('alice')
      .put(`/api/2/things/${id}/credentials`)
      .send({ secret: chosen })
      .expect(200);
    expect(rotated.body.secret).toBeUndefined();
    expect(rotated.body.rotated).toEqual(expect.any(String));
    expect(Date.parse(rotated.body.previousSecretValidUntil) - Date.now()).toBeGreaterThan(0);
    expect(Date.parse(rotated.body.previousSecretValidUntil) - Date.now()).toBeLessThanOrEqual(
      GRACE_SECONDS * 1000 + 1000,
    );

    await as('alice').delete(`/api/2/things/${id}/credentials`).expect(204);
    const gone = await as('alice').get(`/api/2/things/${id}/credentials`).expect(404);
    expect(gone.body.error).toBe('devices:credentials.notfound');
    expect(await tryConnect({ clientId: id, username: id, password: chosen })).toMatch(
      /Bad username or password/,
    );
  });

  it('refuses bad input with 400, never 500', async () => {
    const short = await as('alice')
      .put(`/api/2/things/${id}/credentials`)
      .send({ secret: 'short' })
      .expect(400);
    expect(short.body.error).toBe('devices:secret.invalid');
    await as('alice').put(`/api/2/things/${id}/credentials`).send({ secret: 42 }).expect(400);
    await as('alice')
      .put(`/api/2/things/${id}/credentials`)
      .send({ secret: 'x'.repeat(20), other: 1 })
      .expect(400);
    await as('alice').put(`/api/2/things/${id}/credentials`).send([1]).expect(400);
    await as('alice')
      .put(`/api/2/things/${id}/credentials`)
      .send({ secret: 'with space 0123456789' })
      .expect(400);
    const invalidId = await as('alice').put(`/api/2/things/no-namespace/credentials`).expect(400);
    expect(invalidId.body.error).toBe('things:id.invalid');
    for (const body of [
      {},
      { things: [] },
      { things: [{ thingId: 'x' }] },
      { things: [{ thingId: id }, { thingId: id }] },
    ]) {
      const res = await as('alice').post('/api/2/devices/provision').send(body).expect(400);
      expect(res.body.error).toBe('devices:provision.invalid');
    }
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ thingId: `${ns}:many-${i}` }));
    await as('alice').post('/api/2/devices/provision').send({ things: tooMany }).expect(400);
    const wildcard = await as('alice')
      .post('/api/2/devices/provision')
      .send({ things: [{ thingId: `${ns}:a+b` }] });
    expect(wildcard.status).toBe(400);
    expect(wildcard.body.error).toBe('devices:thingid.unusable');
  });

  it('needs WRITE on policy:/ of the thing: 404 when the caller cannot read it, 403 when it can only read', async () => {
    await request(t.baseUrl).put(`/api/2/things/${id}/credentials`).expect(401);
    const hidden = await as('bob').put(`/api/2/things/${id}/credentials`).expect(404);
    expect(hidden.body.error).toBe('things:thing.notfound');
    await as('bob').get(`/api/2/things/${id}/credentials`).expect(404);
    await as('bob')
      .post('/api/2/devices/provision')
      .send({ things: [{ thingId: id }] })
      .expect(404);
    // Bob may read and even write the thing, but not administer its policy.
    await as('alice')
      .put(`/api/2/policies/${id}/entries/READER`)
      .send({
        subjects: { 'nginx:bob': { type: 'test' } },
        resources: { 'thing:/': { grant: ['READ', 'WRITE'], revoke: [] } },
      })
      .expect(201);
    const denied = await as('bob').put(`/api/2/things/${id}/credentials`).expect(403);
    expect(denied.body.error).toBe('devices:credentials.notmodifiable');
    await as('bob').delete(`/api/2/things/${id}/credentials`).expect(403);
    await as('bob')
      .post('/api/2/devices/provision')
      .send({ things: [{ thingId: id }, { thingId: `${ns}:bob-new` }] })
      .expect(403);
    // Nothing of the refused call was written: not even the thing that did not exist.
    await as('bob').get(`/api/2/things/${ns}:bob-new`).expect(404);
    await as('alice').get(`/api/2/things/${id}/credentials`).expect(404);
  });

  it('provisions a fleet: creates missing things under the caller’s default policy and returns their secrets', async () => {
    await as('alice')
      .put(`/api/2/things/${ns}:fleet-0`)
      .send({ attributes: { pre: true } })
      .expect(201);
    const ids = [0, 1, 2].map((i) => `${ns}:fleet-${i}`);
    const res = await as('alice')
      .post('/api/2/devices/provision')
      .send({
        things: [
          { thingId: ids[0] },
          { thingId: ids[1], secret: 'fleet-1-chosen-secret' },
          { thingId: ids[2] },
        ],
      })
      .expect(200);
    expect(res.body.things).toEqual([
      { thingId: ids[0], thingCreated: false, credentialsCreated: true, secret: expect.any(String) },
      { thingId: ids[1], thingCreated: true, credentialsCreated: true },
      { thingId: ids[2], thingCreated: true, credentialsCreated: true, secret: expect.any(String) },
    ]);
    expect((await as('alice').get(`/api/2/things/${ids[0]}`).expect(200)).body.attributes).toEqual({
      pre: true,
    });
    await as('alice').get(`/api/2/things/${ids[2]}`).expect(200);
    await as('bob').get(`/api/2/things/${ids[2]}`).expect(404);
    const policy = (await as('alice').get(`/api/2/policies/${ids[2]}`).expect(200)).body;
    expect(JSON.stringify(policy)).toContain('nginx:alice');
    const c = await connectAs(t.brokerUrl, ids[1], 'fleet-1-chosen-secret');
    await c.endAsync();
    const d = await connectAs(t.brokerUrl, ids[2], res.body.things[2].secret);
    await d.endAsync();
  });
});

describe('device identity on the embedded broker', () => {
  const a = `${ns}:dev-a`;
  const b = `${ns}:dev-b`;
  let secrets: Map<string, string>;

  beforeAll(async () => {
    secrets = await provisionDevices(t.baseUrl, [a, b]);
  });

  it('lets a device in with its secret only, and only under its own client id', async () => {
    const before = (await stats()).refusedConnects;
    expect(await tryConnect({ clientId: a, username: a, password: secrets.get(a) })).toBe('connected');
    expect(await tryConnect({ clientId: a, username: a, password: 'wrong-secret-0123456789' })).toMatch(
      /Bad username or password/,
    );
    // b's secret for a, no credentials at all, a user name that is no thing.
    expect(await tryConnect({ clientId: a, username: a, password: secrets.get(b) })).toMatch(
      /Bad username or password/,
    );
    expect(await tryConnect({ clientId: 'anonymous-1' })).toMatch(/Bad username or password/);
    expect(await tryConnect({ clientId: 'someone', username: 'someone', password: 'x' })).toMatch(
      /Bad username or password/,
    );
    // Another device's client id would take over its session (and the desired state queued there).
    expect(await tryConnect({ clientId: b, username: a, password: secrets.get(a) })).toMatch(
      /Identifier rejected/,
    );
    expect((await stats()).refusedConnects - before).toBe(5);
  });

  it('keeps the previous secret valid for the grace period after a rotation', async () => {
    const id = `${ns}:rotate`;
    const old = (await provisionDevices(t.baseUrl, [id])).get(id)!;
    const renewed = (await as('ditto').put(`/api/2/things/${id}/credentials`).expect(200)).body
      .secret as string;
    expect(await tryConnect({ clientId: id, username: id, password: old })).toBe('connected');
    expect(await tryConnect({ clientId: id, username: id, password: renewed })).toBe('connected');
    await new Promise((ok) => setTimeout(ok, GRACE_SECONDS * 1000 + 500));
    expect(await tryConnect({ clientId: id, username: id, password: old })).toMatch(
      /Bad username or password/,
    );
    expect(await tryConnect({ clientId: id, username: id, password: renewed })).toBe('connected');
  });

  it('closes a device that publishes to another device’s topic; the other twin stays untouched', async () => {
    const before = (await stats()).refusedPublishes;
    const spoofer = await connectAs(t.brokerUrl, a, secrets.get(a)!, { reconnectPeriod: 0 });
    const gone = closed(spoofer);
    // Not awaited: MQTT 3.1.1 has no negative PUBACK, aedes closes the connection instead.
    spoofer.publish(`things/${b}/telemetry`, JSON.stringify({ features: { f: { v: 'spoofed' } } }), {
      qos: 1,
    });
    await gone;
    const real = await connectAs(t.brokerUrl, b, secrets.get(b)!);
    await publish(real, `things/${b}/telemetry`, { features: { f: { v: 'real' } } });
    await real.endAsync();
    await waitFor('b’s own reading', async () => {
      const res = await as('ditto').get(`/api/2/things/${b}/features/f/properties/v`);
      return res.status === 200 && res.body === 'real';
    });
    const { rows } = await t.db.query(`SELECT value FROM telemetry_readings WHERE thing_id = $1`, [b]);
    expect(rows.map((r: { value: unknown }) => r.value)).toEqual(['real']);
    expect((await stats()).refusedPublishes - before).toBe(1);
  });

  it('refuses topics outside the contract, and other devices’ desired state and status', async () => {
    const before = (await stats()).refusedPublishes;
    for (const topic of [
      `things/${a}/desired`,
      `things/${a}/events`,
      `things/${b}/status`,
      'things/x:y/telemetry',
      '$SYS/x',
    ]) {
      const c = await connectAs(t.brokerUrl, a, secrets.get(a)!, { reconnectPeriod: 0 });
      const gone = closed(c);
      c.publish(topic, 'offline', { qos: 1, retain: true });
      await gone;
    }
    expect((await stats()).refusedPublishes - before).toBe(5);
  });

  it('grants a device only its own desired state and inbox: not #, not another device’s', async () => {
    const before = (await stats()).refusedSubscribes;
    const c = await connectAs(t.brokerUrl, a, secrets.get(a)!);
    // One by one: mqtt.js rejects a whole SUBSCRIBE when any filter is refused.
    const granted: number[] = [];
    for (const filter of [
      `things/${a}/desired`,
      `things/${a}/inbox/#`,
      '#',
      `things/${b}/desired`,
      'things/+/desired',
      `things/${a}/#`,
    ]) {
      granted.push(
        await c.subscribeAsync(filter, { qos: 1 }).then(
          (g) => g[0].qos,
          (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1,
        ),
      );
    }
    expect(granted).toEqual([1, 1, 128, 128, 128, 128]);
    // The connection stays usable.
    await publish(c, `things/${a}/telemetry`, { features: { f: { v: 1 } } });
    await c.endAsync();
    expect((await stats()).refusedSubscribes - before).toBe(4);
  });

  it('refuses the platform’s client id to anyone without the platform’s secret; the ingest stays connected', async () => {
    expect(await tryConnect({ clientId: t.clientId })).toMatch(/Identifier rejected|Bad username/);
    expect(
      await tryConnect({ clientId: t.clientId, clean: true, username: a, password: secrets.get(a) }),
    ).toMatch(/Identifier rejected/);
    expect(await tryConnect({ clientId: t.clientId, username: '$platform', password: 'guess' })).toMatch(
      /Bad username or password/,
    );
    expect((await stats()).brokerConnected).toBe(true);
    const c = await connectAs(t.brokerUrl, a, secrets.get(a)!);
    await publish(c, `things/${a}/telemetry`, { features: { after: { v: 1 } } });
    await c.endAsync();
    await waitFor('the reading after the takeover attempts', async () => {
      const res = await as('ditto').get(`/api/2/things/${a}/features/after/properties/v`);
      return res.status === 200;
    });
  });

  it('refuses a Last Will for another device’s status at CONNECT; its own works', async () => {
    const will = (topic: string) => ({
      topic,
      payload: Buffer.from('offline'),
      qos: 1 as const,
      retain: false,
    });
    expect(
      await tryConnect({
        clientId: a,
        username: a,
        password: secrets.get(a),
        will: will(`things/${b}/status`),
      }),
    ).toMatch(/Not authorized/);
    expect(
      await tryConnect({
        clientId: a,
        username: a,
        password: secrets.get(a),
        will: will(`things/${a}/telemetry`),
      }),
    ).toMatch(/Not authorized/);
    const own = await connectAs(t.brokerUrl, a, secrets.get(a)!, {
      will: will(`things/${a}/status`),
      reconnectPeriod: 0,
    });
    await publish(own, `things/${a}/status`, 'online');
    await waitFor('a online', async () => {
      const res = await as('ditto').get(`/api/2/things/${a}/features/ConnectionStatus/properties/status`);
      return res.body === 'online';
    });
    own.stream.destroy(); // no DISCONNECT: the broker publishes the will
    await waitFor('a offline through its will', async () => {
      const res = await as('ditto').get(`/api/2/things/${a}/features/ConnectionStatus/properties/status`);
      return res.body === 'offline';
    });
  });

  it('enforces a device’s ditto commands: its features yes, its policyId and attributes only if its policy names device:<id>', async () => {
    const id = `${ns}:cmd`;
    const secret = (await provisionDevices(t.baseUrl, [id])).get(id)!;
    const c = await connectAs(t.brokerUrl, id, secret);
    const [name] = [id.split(':')[1]];
    const command = (path: string, value: unknown, action = 'modify') => ({
      topic: `${ns}/${name}/things/twin/commands/${action}`,
      path,
      value,
    });
    await publish(c, `things/${id}/ditto`, command('/policyId', `${ns}:other`));
    await publish(c, `things/${id}/ditto`, command('/attributes/floor', 2));
    await publish(c, `things/${id}/ditto`, command('/', { policyId: `${ns}:other` }, 'merge'));
    await publish(c, `things/${id}/ditto`, command('/features/lamp', { properties: { on: true } }));
    await waitFor('the feature write', async () => {
      const res = await as('ditto').get(`/api/2/things/${id}/features/lamp/properties/on`);
      return res.status === 200 && res.body === true;
    });
    const letters = await waitFor('three refused commands', async () => {
      const { rows } = await t.db.query(`SELECT reason FROM ingest_dead_letters WHERE topic = $1`, [
        `things/${id}/ditto`,
      ]);
      return rows.length === 3 ? rows : undefined;
    });
    expect(letters.map((r: { reason: string }) => r.reason)).toEqual([
      'command_rejected',
      'command_rejected',
      'command_rejected',
    ]);
    const thing = (await as('ditto').get(`/api/2/things/${id}`).expect(200)).body;
    expect(thing.policyId).toBe(id);
    expect(thing.attributes).toBeUndefined();

    // Granted to the device by name, the attribute write goes through.
    await as('ditto')
      .put(`/api/2/policies/${id}/entries/DEVICE`)
      .send({
        subjects: { [`device:${id}`]: { type: 'device' } },
        resources: { 'thing:/attributes': { grant: ['WRITE'], revoke: [] } },
      })
      .expect(201);
    await publish(c, `things/${id}/ditto`, command('/attributes/floor', 3));
    await waitFor('the granted attribute write', async () => {
      const res = await as('ditto').get(`/api/2/things/${id}/attributes/floor`);
      return res.status === 200 && res.body === 3;
    });
    await c.endAsync();
  });
});

describe('MQTT_ANONYMOUS=true', () => {
  let open: IngestTestApp;
  beforeAll(async () => {
    open = await startIngestApp({ MQTT_URL: '', MQTT_ANONYMOUS: 'true' });
  });
  afterAll(async () => {
    await open?.close();
  });

  it('lets clients without credentials publish (today’s demo behaviour) but still guards the platform’s session', async () => {
    const id = `${ns}:anon`;
    const c = await mqtt.connectAsync(open.brokerUrl, { clientId: 'whatever', reconnectPeriod: 0 });
    await publish(c, `things/${id}/telemetry`, { features: { f: { v: 1 } } });
    await c.endAsync();
    await waitFor('the anonymous reading', async () => {
      const res = await request(open.baseUrl)
        .get(`/api/2/things/${id}/features/f/properties/v`)
        .set(authHeaders());
      return res.status === 200;
    });
    const takeover = await mqtt
      .connectAsync(open.brokerUrl, { clientId: open.clientId, reconnectPeriod: 0 })
      .then(
        async (x) => (await x.endAsync(), 'connected'),
        (err: Error) => err.message,
      );
    expect(takeover).toMatch(/Identifier rejected/);
  });
});
