import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * The compose stack's Mosquitto configuration, run by the machine's Mosquitto binary: the repo's
 * deploy/mosquitto/mosquitto.conf with only the listener port, persistence and file paths
 * changed, and exactly deploy/mosquitto/dynamic-security.json as its users and topics. Shows
 * that a device publishes and subscribes on its own topics only, and that the platform's user
 * gets device messages through the shared subscription the platform makes.
 *
 * Needs Mosquitto 2 with its dynamic security plugin (Debian/Ubuntu package `mosquitto`); the
 * test fails, never skips, without them. MOSQUITTO_BIN / MOSQUITTO_DYNSEC_PLUGIN override the paths.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONF = join(ROOT, 'deploy/mosquitto/mosquitto.conf');
const DYNSEC = join(ROOT, 'deploy/mosquitto/dynamic-security.json');

const BINARIES = [process.env.MOSQUITTO_BIN, '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'];
const PLUGINS = [
  process.env.MOSQUITTO_DYNSEC_PLUGIN,
  '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/mosquitto_dynamic_security.so',
  '/usr/local/lib/mosquitto_dynamic_security.so',
];

// The identities of deploy/mosquitto/dynamic-security.json (demo passwords, as in compose).
const PLATFORM = { username: 'twin-platform', password: 'twin-platform-secret' };
/** The platform's subscription on an external broker (MqttConnection.filter, group twin-platform). */
const PLATFORM_FILTER = '$share/twin-platform/things/#';
const DEVICE_PASSWORD = 'device-secret';
const DEVICE = 'org.example.sim:energy-1';
const OTHER = 'org.example.sim:energy-2';
/** As the test found it: the broker must not rewrite it. */
const DYNSEC_BEFORE = readFileSync(DYNSEC, 'utf8');
const device = (thingId: string) => ({ username: thingId, clientId: thingId, password: DEVICE_PASSWORD });

const SETTLE_MS = 400;
const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

function firstExisting(candidates: (string | undefined)[], what: string): string {
  const found = candidates.find((path): path is string => !!path && existsSync(path));
  if (!found) {
    throw new Error(
      `${what} not found (looked in ${candidates.filter(Boolean).join(', ')}). ` +
        'Install Mosquitto 2 (apt-get install mosquitto) or set MOSQUITTO_BIN / MOSQUITTO_DYNSEC_PLUGIN.',
    );
  }
  return found;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port')),
      );
    });
  });
}

/** The deploy configuration with the test's port, no persistence and this machine's paths. */
function testConfig(port: number, plugin: string): string {
  const changed: string[] = [];
  const lines = readFileSync(CONF, 'utf8')
    .split('\n')
    .flatMap((line) => {
      const [key] = line.trim().split(/\s+/);
      const swap = (to: string | null) => {
        changed.push(key);
        return to === null ? [] : [to];
      };
      switch (key) {
        case 'listener':
          return swap(`listener ${port} 127.0.0.1`);
        case 'persistence':
          return swap('persistence false');
        case 'persistence_location':
        case 'autosave_interval':
          return swap(null);
        case 'plugin':
          return swap(`plugin ${plugin}`);
        case 'plugin_opt_config_file':
          return swap(`plugin_opt_config_file ${DYNSEC}`);
        default:
          return [line];
      }
    });
  // Everything else (allow_anonymous false, limits, logging) is the deploy file's own.
  expect(changed.sort()).toEqual([
    'autosave_interval',
    'listener',
    'persistence',
    'persistence_location',
    'plugin',
    'plugin_opt_config_file',
  ]);
  expect(lines).toContain('allow_anonymous false');
  return lines.join('\n');
}

describe('deploy/mosquitto with the machine’s Mosquitto', () => {
  let broker: ChildProcess | undefined;
  let dir: string;
  let port: number;
  let log = '';
  const clients: MqttClient[] = [];

  async function connect(options: IClientOptions): Promise<MqttClient> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    clients.push(client);
    return client;
  }

  /** The CONNACK reason code a refused login gets. */
  async function refusal(options: IClientOptions): Promise<number | undefined> {
    try {
      const client = await connect(options);
      await client.endAsync(true);
      return 0;
    } catch (err) {
      return (err as { code?: number }).code;
    }
  }

  /** The SUBACK's reason code per filter (mqtt.js rejects a SUBACK with any refusal in it). */
  async function suback(client: MqttClient, filters: string[]): Promise<number[]> {
    try {
      return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
    } catch (err) {
      const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
      if (!granted) throw err;
      return granted;
    }
  }

  /** Messages a client receives, by topic. */
  function inbox(client: MqttClient): { topic: string; payload: string }[] {
    const got: { topic: string; payload: string }[] = [];
    client.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
    return got;
  }

  beforeAll(async () => {
    const bin = firstExisting(BINARIES, 'The Mosquitto broker binary');
    const plugin = firstExisting(PLUGINS, "Mosquitto's dynamic security plugin");
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'mosquitto-acl-'));
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(conf, testConfig(port, plugin));

    const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    broker = child;
    // Its log (stdout, block-buffered into a pipe) is for failure messages only.
    child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    // Started once the health check's user (deploy/mosquitto) can log in.
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}:\n${log}`);
      const up = await mqtt
        .connectAsync(`mqtt://127.0.0.1:${port}`, {
          username: 'healthcheck',
          password: 'healthcheck',
          reconnectPeriod: 0,
          connectTimeout: 1000,
        })
        .then(
          (client) => client.endAsync(true).then(() => true),
          () => false,
        );
      if (up) break;
      if (Date.now() > deadline) throw new Error(`mosquitto did not start within 10 s:\n${log}`);
      await sleep(100);
    }
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
    if (broker && broker.exitCode === null) {
      const exited = new Promise((ok) => broker?.once('exit', ok));
      broker.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lets a device publish its own telemetry, which the platform gets through its shared subscription', async () => {
    const platform = await connect({ ...PLATFORM, clientId: 'twin-platform-test' });
    expect(await suback(platform, [PLATFORM_FILTER])).toEqual([1]);
    // Only that filter: not the devices' topics without the share group.
    expect(await suback(platform, ['#', 'things/#', '$share/other-group/things/#'])).toEqual([
      0x87, 0x87, 0x87,
    ]);
    const received = inbox(platform);

    const dev = await connect(device(DEVICE));
    await dev.publishAsync(`things/${DEVICE}/telemetry`, '{"features":{"power":{"watts":1}}}', { qos: 1 });
    await dev.publishAsync(`things/${DEVICE}/status`, 'online', { qos: 1 });
    await dev.publishAsync(`things/${DEVICE}/ditto`, '{}', { qos: 1 });
    await sleep(SETTLE_MS);

    expect(received.map((m) => m.topic)).toEqual([
      `things/${DEVICE}/telemetry`,
      `things/${DEVICE}/status`,
      `things/${DEVICE}/ditto`,
    ]);
  });

  it("refuses a device publishing on another device's topics, or on its own desired", async () => {
    const platform = await connect({ ...PLATFORM, clientId: 'twin-platform-spoof' });
    await platform.subscribeAsync(PLATFORM_FILTER, { qos: 1 });
    const received = inbox(platform);

    const dev = await connect(device(DEVICE));
    for (const topic of [
      `things/${OTHER}/telemetry`,
      `things/${OTHER}/status`,
      `things/${OTHER}/desired`,
      `things/${DEVICE}/desired`,
      'things/anything',
    ]) {
      // MQTT 5: PUBACK 0x87 "not authorized"; the message goes nowhere.
      await expect(dev.publishAsync(topic, 'spoofed', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    }
    await sleep(SETTLE_MS);
    expect(received).toEqual([]);
  });

  it("lets a device subscribe to its own desired state only; '#' and another device's desired are refused", async () => {
    const platform = await connect({ ...PLATFORM, clientId: 'twin-platform-desired' });
    // As the platform publishes desired state: QoS 1, retained.
    await platform.publishAsync(`things/${DEVICE}/desired`, '{"features":{"a":{"x":1}}}', {
      qos: 1,
      retain: true,
    });
    await platform.publishAsync(`things/${OTHER}/desired`, '{"features":{"a":{"x":2}}}', {
      qos: 1,
      retain: true,
    });

    const dev = await connect(device(DEVICE));
    const received = inbox(dev);
    // MQTT 5 SUBACK 0x87 "not authorized" for each.
    expect(
      await suback(dev, ['#', 'things/+/desired', `things/${OTHER}/desired`, `things/${OTHER}/#`]),
    ).toEqual([0x87, 0x87, 0x87, 0x87]);
    expect(await suback(dev, [`things/${DEVICE}/desired`, `things/${DEVICE}/inbox/#`])).toEqual([1, 1]);
    await sleep(SETTLE_MS);
    // The retained one, then a live one.
    await platform.publishAsync(`things/${DEVICE}/desired`, '{"features":{"a":{"x":3}}}', { qos: 1 });
    await platform.publishAsync(`things/${OTHER}/desired`, '{"features":{"a":{"x":4}}}', { qos: 1 });
    await sleep(SETTLE_MS);

    expect(received).toEqual([
      { topic: `things/${DEVICE}/desired`, payload: '{"features":{"a":{"x":1}}}' },
      { topic: `things/${DEVICE}/desired`, payload: '{"features":{"a":{"x":3}}}' },
    ]);
  });

  it('carries live messages: the platform to a device inbox, the device back on its own outbox only', async () => {
    // Each replica's own, non-shared subscription (messages/message-bus.ts).
    const platform = await connect({ ...PLATFORM, clientId: 'twin-platform-messages' });
    expect(
      await suback(platform, [
        'things/+/inbox/#',
        'things/+/outbox/#',
        'things/+/features/+/inbox/#',
        'things/+/features/+/outbox/#',
      ]),
    ).toEqual([1, 1, 1, 1]);
    const atPlatform = inbox(platform);
    const dev = await connect(device(DEVICE));
    expect(
      await suback(dev, [
        `things/${DEVICE}/inbox/#`,
        `things/${DEVICE}/features/+/inbox/#`,
        `things/${OTHER}/inbox/#`,
      ]),
    ).toEqual([1, 1, 0x87]);
    const atDevice = inbox(dev);
    await platform.publishAsync(`things/${DEVICE}/inbox/reboot`, '{"correlationId":"c1"}', { qos: 1 });
    await platform.publishAsync(`things/${DEVICE}/features/lamp/inbox/on`, '{"correlationId":"c2"}', {
      qos: 1,
    });
    await platform.publishAsync(`things/${OTHER}/inbox/reboot`, '{"correlationId":"c3"}', { qos: 1 });
    await dev.publishAsync(`things/${DEVICE}/outbox/reboot`, '{"correlationId":"c1","status":204}', {
      qos: 1,
    });
    await dev.publishAsync(
      `things/${DEVICE}/features/lamp/outbox/on`,
      '{"correlationId":"c2","status":200}',
      {
        qos: 1,
      },
    );
    for (const topic of [`things/${OTHER}/outbox/reboot`, `things/${DEVICE}/inbox/forged`]) {
      await expect(dev.publishAsync(topic, '{"status":200}', { qos: 1 })).rejects.toMatchObject({
        code: 0x87,
      });
    }
    await sleep(SETTLE_MS);
    expect(atDevice.map((m) => m.topic)).toEqual([
      `things/${DEVICE}/inbox/reboot`,
      `things/${DEVICE}/features/lamp/inbox/on`,
    ]);
    expect(atPlatform.map((m) => m.topic).filter((t) => t.includes('/outbox/'))).toEqual([
      `things/${DEVICE}/outbox/reboot`,
      `things/${DEVICE}/features/lamp/outbox/on`,
    ]);
  });

  it('refuses a wrong password, an anonymous client and an unknown user', async () => {
    // MQTT 5 CONNACK 0x86 "bad user name or password" or 0x87 "not authorized".
    const refused = [0x86, 0x87];
    expect(refused).toContain(await refusal({ ...device(DEVICE), password: 'wrong' }));
    expect(refused).toContain(await refusal({ clientId: 'anonymous-test' }));
    expect(refused).toContain(await refusal({ username: 'nobody', password: DEVICE_PASSWORD }));
  });

  it("refuses a device with the platform's username, or with another client id than its thingId", async () => {
    const refused = [0x86, 0x87];
    expect(refused).toContain(
      await refusal({ username: PLATFORM.username, password: DEVICE_PASSWORD, clientId: DEVICE }),
    );
    // The platform's client id (compose: twin-platform-1): its session cannot be taken over.
    expect(refused).toContain(await refusal({ ...device(DEVICE), clientId: 'twin-platform-1' }));
    expect(refused).toContain(await refusal({ ...device(DEVICE), clientId: OTHER }));
  });

  it('leaves deploy/mosquitto/dynamic-security.json as it was', () => {
    // The plugin writes its file only on $CONTROL changes; compose mounts it read-only.
    expect(readFileSync(DYNSEC, 'utf8')).toBe(DYNSEC_BEFORE);
  });
});
