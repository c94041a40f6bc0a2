import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import request from 'supertest';
import { TEST_USERS, type TestUserName } from './auth.js';

/**
 * Devices as a real fleet has them: provisioned over REST (POST /api/2/devices/provision, which
 * creates the things and returns generated secrets), then logged in with user name = client id
 * = thing id and password = secret. On the embedded broker this is the only way in; against the
 * test Mosquitto (anonymous) the credentials are simply not checked.
 */
export async function provisionDevices(
  baseUrl: string,
  thingIds: string[],
  user: TestUserName = 'ditto',
): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  const { username, password } = TEST_USERS[user];
  for (let i = 0; i < thingIds.length; i += 1000) {
    const res = await request(baseUrl)
      .post('/api/2/devices/provision')
      .auth(username, password)
      .send({ things: thingIds.slice(i, i + 1000).map((thingId) => ({ thingId })) });
    if (res.status !== 200) throw new Error(`provisioning failed: ${res.status} ${res.text}`);
    for (const t of (res.body as { things: { thingId: string; secret: string }[] }).things) {
      secrets.set(t.thingId, t.secret);
    }
  }
  return secrets;
}

/** A device's authenticated MQTT connection (QoS 1 publishes resolve on the broker's PUBACK). */
export function connectAs(
  url: string,
  thingId: string,
  secret: string,
  opts: IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: thingId,
    username: thingId,
    password: secret,
    reconnectPeriod: 200,
    ...opts,
  });
}

/**
 * Provisions each thing when first asked for and keeps one authenticated connection per device:
 * for tests that publish as many devices.
 */
export class DeviceFleet {
  private readonly clients = new Map<string, Promise<MqttClient>>();

  constructor(
    private readonly baseUrl: string,
    private readonly brokerUrl: string,
    private readonly opts: IClientOptions = {},
  ) {}

  device(thingId: string): Promise<MqttClient> {
    let c = this.clients.get(thingId);
    if (!c) {
      c = provisionDevices(this.baseUrl, [thingId]).then((s) =>
        connectAs(this.brokerUrl, thingId, s.get(thingId)!, this.opts),
      );
      this.clients.set(thingId, c);
    }
    return c;
  }

  async end(): Promise<void> {
    const all = await Promise.allSettled([...this.clients.values()]);
    await Promise.all(all.flatMap((r) => (r.status === 'fulfilled' ? [r.value.endAsync(true)] : [])));
  }
}
