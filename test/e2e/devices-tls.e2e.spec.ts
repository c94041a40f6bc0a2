import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import request from 'supertest';
import { authHeaders } from '../support/auth.js';
import { provisionDevices } from '../support/devices.js';
import { publish, startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';

/**
 * The embedded broker with TLS (MQTT_TLS_CERT/MQTT_TLS_KEY) and client certificates (MQTT_TLS_CA):
 * certificates made here with the openssl CLI, a CA of the test's own signing the server's and the
 * devices' certificates. A device whose certificate names its thing id (CN or URI SAN) signs in
 * without a secret; a device with a secret still can; anything else is refused.
 */
const ns = uniqueNamespace('tls');
const byCn = `${ns}:by-cn`;
const bySan = `${ns}:by-san`;
const withSecret = `${ns}:with-secret`;
const dir = mkdtempSync(join(tmpdir(), 'twin-tls-'));
const file = (name: string) => join(dir, name);
let t: IngestTestApp;
let port: number;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A P-256 key and a certificate for `subject`, signed by `ca` (or self-signed without one). */
function certificate(name: string, subject: string, san?: string, ca?: string): void {
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  if (!ca) {
    openssl(
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      subject,
    );
    return;
  }
  openssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  const ext = san ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n';
  writeFileSync(file(`${name}.ext`), ext);
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    String(Date.now()),
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

const pem = (name: string) => readFileSync(file(name));

beforeAll(async () => {
  certificate('ca', '/CN=twin test CA');
  certificate('server', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1', 'ca');
  certificate('by-cn', `/CN=${byCn}`, undefined, 'ca');
  certificate('by-san', '/CN=meter', `URI:${bySan}`, 'ca');
  // The same name as a real device, but not issued by the CA.
  certificate('rogue', `/CN=${byCn}`);
  t = await startIngestApp({
    MQTT_URL: '',
    MQTT_TLS_CERT: file('server.crt'),
    MQTT_TLS_KEY: file('server.key'),
    MQTT_TLS_CA: file('ca.crt'),
  });
  port = Number(new URL(t.brokerUrl).port);
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

const tls = (over: IClientOptions = {}): IClientOptions => ({
  protocol: 'mqtts',
  host: '127.0.0.1',
  port,
  ca: pem('ca.crt'),
  reconnectPeriod: 0,
  connectTimeout: 5000,
  ...over,
});

/** 'connected', or why not: mqtt.js' CONNACK refusal, the TLS error, or 'closed' without a CONNACK. */
function tryConnect(opts: IClientOptions): Promise<string> {
  const c = mqtt.connect({ ...opts, reconnectPeriod: 0 });
  return new Promise<string>((ok) => {
    c.once('connect', () => ok('connected'));
    c.once('error', (err) => ok(err.message));
    c.once('close', () => ok('closed'));
  }).finally(() => c.end(true));
}

async function propertyOf(thingId: string): Promise<unknown> {
  const res = await request(t.baseUrl)
    .get(`/api/2/things/${thingId}/features/f/properties/v`)
    .set(authHeaders());
  return res.status === 200 ? res.body : undefined;
}

describe('MQTT over TLS on the embedded broker', () => {
  it('announces an mqtts:// URL and speaks TLS only', async () => {
    expect(t.brokerUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const plain = await tryConnect({
      protocol: 'mqtt',
      host: '127.0.0.1',
      port,
      reconnectPeriod: 0,
      connectTimeout: 2000,
    });
    expect(plain).not.toBe('connected');
    // A client that does not trust the server's certificate does not get in either.
    expect(await tryConnect(tls({ ca: undefined }))).toMatch(/self.signed|unable to get local issuer/i);
  });

  it('signs a device in by the CN of its client certificate, without a secret', async () => {
    const c: MqttClient = await mqtt.connectAsync(
      tls({ clientId: byCn, key: pem('by-cn.key'), cert: pem('by-cn.crt') }),
    );
    await publish(c, `things/${byCn}/telemetry`, { features: { f: { v: 'cn' } } });
    await c.endAsync();
    expect(await propertyOf(byCn)).toBe('cn');
  });

  it('signs a device in by a URI subject alternative name, user name optional', async () => {
    const c = await mqtt.connectAsync(
      tls({ clientId: bySan, username: bySan, key: pem('by-san.key'), cert: pem('by-san.crt') }),
    );
    await publish(c, `things/${bySan}/telemetry`, { features: { f: { v: 'san' } } });
    await c.endAsync();
    expect(await propertyOf(bySan)).toBe('san');
  });

  it('still signs devices in by their secret over TLS', async () => {
    const secret = (await provisionDevices(t.baseUrl, [withSecret])).get(withSecret)!;
    const c = await mqtt.connectAsync(tls({ clientId: withSecret, username: withSecret, password: secret }));
    await publish(c, `things/${withSecret}/telemetry`, { features: { f: { v: 'secret' } } });
    await c.endAsync();
    expect(await propertyOf(withSecret)).toBe('secret');
  });

  it('refuses certificates that do not prove the thing id claimed', async () => {
    // Not issued by MQTT_TLS_CA, though it names the device.
    expect(await tryConnect(tls({ clientId: byCn, key: pem('rogue.key'), cert: pem('rogue.crt') }))).toMatch(
      /Not authorized/,
    );
    // A valid certificate, claimed for another device (by client id, by user name).
    expect(await tryConnect(tls({ clientId: bySan, key: pem('by-cn.key'), cert: pem('by-cn.crt') }))).toMatch(
      /Not authorized/,
    );
    expect(
      await tryConnect(
        tls({ clientId: byCn, username: bySan, key: pem('by-cn.key'), cert: pem('by-cn.crt') }),
      ),
    ).toMatch(/Not authorized/);
    // A valid certificate and a wrong secret of someone else: the certificate decides, for its own id only.
    expect(
      await tryConnect(
        tls({
          clientId: withSecret,
          username: withSecret,
          password: 'wrong-secret-0123456789',
          key: pem('by-cn.key'),
          cert: pem('by-cn.crt'),
        }),
      ),
    ).toMatch(/Not authorized/);
  });

  it('keeps a certificate device on its own topics', async () => {
    const c = await mqtt.connectAsync(tls({ clientId: byCn, key: pem('by-cn.key'), cert: pem('by-cn.crt') }));
    const closed = new Promise<void>((ok) => c.once('close', () => ok()));
    c.publish(`things/${bySan}/telemetry`, JSON.stringify({ features: { f: { v: 'spoofed' } } }), { qos: 1 });
    await closed;
    await c.endAsync(true);
    await waitFor('the refusal counted', async () => {
      const stats = await request(t.baseUrl).get('/api/2/ingest/stats').set(authHeaders());
      return stats.body.refusedPublishes >= 1;
    });
    expect(await propertyOf(bySan)).toBe('san');
  });
});
