import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { MqttBroker } from '../../src/ingest/mqtt-broker.js';
import { MqttConnection } from '../../src/ingest/mqtt-connection.js';
import type { AppOptions } from '../../src/bootstrap.js';
import { startTestApp, type TestApp } from './app.js';

/**
 * MQTT for the ingest tests. With MQTT_TEST_URL the app under test uses that broker (MQTT_URL);
 * without it the app starts its embedded broker on a free port. Either way the tests publish
 * to `brokerUrl`. A broker may carry other suites' traffic, so every test uses thing IDs of
 * its own (uniqueNamespace) and asserts only on those.
 */
export const MQTT_TEST_URL = process.env.MQTT_TEST_URL || undefined;

export interface IngestTestApp extends TestApp {
  brokerUrl: string;
  clientId: string;
}

export async function startIngestApp(
  env: Record<string, string> = {},
  options: AppOptions = {},
): Promise<IngestTestApp> {
  const clientId = `test-ingest-${randomBytes(4).toString('hex')}`;
  // MQTT_URL: '' forces the embedded broker (tests of its device access rules).
  const external = 'MQTT_URL' in env ? env.MQTT_URL || undefined : MQTT_TEST_URL;
  const mqttEnv: Record<string, string> = external
    ? // A share group of its own: another suite's app on the same broker must not take our messages.
      { MQTT_URL: external, MQTT_CLIENT_ID: clientId, MQTT_SHARE_GROUP: clientId }
    : { MQTT_PORT: '0', MQTT_CLIENT_ID: clientId };
  const t = await startTestApp({ INGEST_BATCH_MS: '5', ...mqttEnv, ...env }, options);
  await withTimeout(t.app.get(MqttConnection).ready, 15_000, 'the ingest did not subscribe');
  const brokerUrl = t.app.get(MqttBroker).url;
  return {
    ...t,
    brokerUrl,
    clientId,
    close: async () => {
      try {
        await t.close();
      } catch (err) {
        // startTestApp checks every /api/2 answer against Ditto's spec; the ingest's own
        // endpoints are a platform addition that spec cannot know.
        const rest = (err as Error).message
          .split('\n\n')
          .filter((v) => !/\/api\/2\/ingest\//.test(v) && !/^responses that break/.test(v));
        if (rest.length > 0) throw err;
      }
      // A persistent session would collect this suite's share of traffic on the broker forever.
      if (external) await dropSession(external, clientId).catch(() => undefined);
    },
  };
}

/** Ends a persistent session on the broker (MQTT 5 clean start with no expiry). */
export async function dropSession(url: string, clientId: string): Promise<void> {
  const c = await mqtt.connectAsync(url, {
    clientId,
    clean: true,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 0 },
    reconnectPeriod: 0,
  });
  await c.endAsync();
}

export function uniqueNamespace(prefix = 'test'): string {
  return `${prefix}.n${randomBytes(4).toString('hex')}`;
}

/** A device: QoS 1 publishes that resolve on the broker's PUBACK. */
export async function connectDevice(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: `dev-${randomBytes(4).toString('hex')}`,
    reconnectPeriod: 200,
    ...opts,
  });
}

export async function publish(
  client: MqttClient,
  topic: string,
  payload: string | Buffer | object,
  retain = false,
): Promise<void> {
  const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  await client.publishAsync(topic, body, { qos: 1, retain });
}

/** Polls until `check` returns a value other than undefined/false; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
  });
}

export const MOSQUITTO = '/usr/sbin/mosquitto';

/**
 * A Mosquitto of the test's own, on its own port, persisting sessions to a temp dir, so the
 * test can stop and start it. Unlike the packaged default (max_queued_messages 1000), it
 * queues without limit for an offline session: the app's session must survive its death
 * with everything published meanwhile.
 */
export class OwnMosquitto {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'twin-mosquitto-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnMosquitto> {
    const m = new OwnMosquitto(await freePort());
    writeFileSync(
      join(m.dir, 'mosquitto.conf'),
      [
        `listener ${m.port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence true',
        `persistence_location ${m.dir}/`,
        'autosave_interval 1',
        'max_queued_messages 0',
        'max_inflight_messages 0',
        'log_dest none',
        // As root Mosquitto would switch to the mosquitto user, who cannot write the temp dir.
        'user root',
        '',
      ].join('\n'),
    );
    await m.resume();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async resume(): Promise<void> {
    this.child = spawn(MOSQUITTO, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitFor('mosquitto to listen', async () => {
      try {
        const c = await mqtt.connectAsync(this.url, { reconnectPeriod: 0, connectTimeout: 500 });
        await c.endAsync();
        return true;
      } catch {
        return false;
      }
    });
  }

  /** SIGTERM: Mosquitto writes its persistence file on the way out. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((ok) => {
      child.once('exit', () => ok());
      child.kill('SIGTERM');
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
