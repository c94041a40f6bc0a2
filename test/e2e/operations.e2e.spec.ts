import { createServer, connect, type Server, type Socket } from 'node:net';
import { Logger, type INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/config.schema.js';
import { ConfigService } from '../../src/config/config.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { authHeaders, basicAuthHeader, testUser, withTestAuth } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';
import { freePort, waitFor } from '../support/mqtt.js';

interface LogLine {
  level: string;
  msg?: string;
  context?: string;
  [key: string]: unknown;
}

const written: string[] = [];
const lines = (): LogLine[] =>
  written
    .join('')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogLine);
const requestLines = (): LogLine[] => lines().filter((l) => l.context === 'http');

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp(
    { LOG_LEVEL: 'info', METRICS_TOKEN: 'operations-metrics-token' },
    { logDestination: { write: (chunk: string) => void written.push(chunk) } },
  );
});
afterAll(async () => {
  await t?.close();
});

// First: Nest's Logger is one per process, and the health test boots a second, silent app.
describe('logs', () => {
  it('writes one JSON line per request with route, status, duration and the correlation id', async () => {
    const res = await request(t.baseUrl)
      .get('/api/2/things/org.ops:nothing-here')
      .set(authHeaders())
      .set('correlation-id', 'ops-corr-42')
      .expect(404);
    expect(res.headers['correlation-id']).toBe('ops-corr-42');
    const line = await waitFor('the request line', () =>
      requestLines().find((l) => l.correlationId === 'ops-corr-42'),
    );
    expect(line).toMatchObject({
      level: 'info',
      method: 'GET',
      route: '/api/2/things/:thingId',
      path: '/api/2/things/org.ops:nothing-here',
      status: 404,
      durationMs: expect.any(Number),
    });
    expect(typeof line.time).toBe('string');
  });

  it('makes up a correlation id when the client sends none, and returns it', async () => {
    const res = await request(t.baseUrl).get('/api/2/whoami').set(authHeaders()).expect(200);
    const id = res.headers['correlation-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = await waitFor('the request line', () => requestLines().find((l) => l.correlationId === id));
    expect(line).toMatchObject({ route: '/api/2/whoami', status: 200 });
    // Refused before any route: still one line, with the id the response carries.
    const refused = await request(t.baseUrl).get('/api/2/whoami').expect(401);
    const refusedLine = await waitFor('the refused line', () =>
      requestLines().find((l) => l.correlationId === refused.headers['correlation-id']),
    );
    expect(refusedLine).toMatchObject({ route: 'unauthenticated', status: 401 });
  });

  it('never writes credentials: not the Authorization header, a password or the metrics token', async () => {
    const alice = testUser('alice');
    await request(t.baseUrl).get('/api/2/whoami').set('authorization', basicAuthHeader('alice')).expect(200);
    await request(t.baseUrl)
      .get('/api/2/whoami')
      .set('authorization', `Basic ${Buffer.from('alice:wrong-password-123').toString('base64')}`)
      .expect(401);
    await request(t.baseUrl)
      .get('/api/2/things')
      .query({ access_token: 'query-token-should-not-be-logged' })
      .expect(401);
    await request(t.baseUrl)
      .get('/metrics')
      .set('authorization', 'Bearer operations-metrics-token')
      .expect(200);
    // Anything logged as an object has its secrets replaced by pino's redaction.
    new Logger('OpsTest').warn({
      msg: 'an object with secrets',
      headers: { authorization: 'Bearer logged-object-token', 'x-ditto-pre-authenticated': 'nginx:mallory' },
      password: 'logged-object-password',
    });
    await waitFor('the metrics line', () =>
      requestLines().find((l) => l.route === '/metrics' && l.status === 200),
    );
    const all = written.join('');
    for (const secret of [
      basicAuthHeader('alice'),
      Buffer.from(`alice:${alice.password}`).toString('base64'),
      alice.password,
      'wrong-password-123',
      'query-token-should-not-be-logged',
      'operations-metrics-token',
      'logged-object-token',
      'logged-object-password',
      'nginx:mallory',
    ]) {
      expect([secret, all.includes(secret)]).toEqual([secret, false]);
    }
    expect(all.toLowerCase()).not.toContain('"authorization":"basic');
    const redacted = lines().find((l) => l.context === 'OpsTest');
    expect(redacted).toMatchObject({
      level: 'warn',
      headers: { authorization: '[redacted]', 'x-ditto-pre-authenticated': '[redacted]' },
      password: '[redacted]',
    });
  });

  it("sends Nest's own log calls through pino as JSON lines", () => {
    const nest = lines().filter((l) => l.context === 'NestApplication' || l.context === 'RoutesResolver');
    expect(nest.length).toBeGreaterThan(0);
    expect(nest[0].level).toBe('info');
  });
});

describe('health', () => {
  it('/health/live answers with no dependency checked', async () => {
    const res = await request(t.baseUrl).get('/health/live').expect(200);
    expect(res.body).toEqual({ status: 'ok', info: {}, error: {}, details: {} });
  });

  it('/health/ready checks the database, migrations, broker and journal feed; /health is the same', async () => {
    const ready = await request(t.baseUrl).get('/health/ready').expect(200);
    expect(ready.body.status).toBe('ok');
    expect(Object.keys(ready.body.info).sort()).toEqual(['broker', 'database', 'journalFeed', 'migrations']);
    for (const v of Object.values(ready.body.info as Record<string, { status: string }>))
      expect(v.status).toBe('up');
    const alias = await request(t.baseUrl).get('/health').expect(200);
    expect(Object.keys(alias.body.info).sort()).toEqual(Object.keys(ready.body.info).sort());
  });

  it('/health/ready turns 503 while PostgreSQL is unreachable, and back; /health/live stays 200', async () => {
    const proxy = await PgProxy.start(
      new URL(process.env.TEST_DATABASE_SERVER_URL ?? process.env.DATABASE_URL ?? ''),
    );
    const database = await createTestDatabase();
    let app: INestApplication | undefined;
    try {
      const url = new URL(database.url);
      url.host = `127.0.0.1:${proxy.port}`;
      const config = new ConfigService(
        loadConfig({
          ...withTestAuth(),
          LOG_LEVEL: 'silent',
          DATABASE_URL: url.toString(),
          MQTT_PORT: '0',
          PORT: '0',
          HOST: '127.0.0.1',
        }),
      );
      app = await createApp(config);
      await app.listen(0, '127.0.0.1');
      const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
      await request(base).get('/health/ready').expect(200);

      await proxy.stop();
      const down = await request(base).get('/health/ready').expect(503);
      expect(down.body.status).toBe('error');
      expect(down.body.error.database.status).toBe('down');
      expect(down.body.details.broker.status).toBe('up');
      expect((await request(base).get('/health')).status).toBe(503);
      await request(base).get('/health/live').expect(200);

      await proxy.resume();
      // The LISTEN connection of the journal feed comes back with backoff (at most 5 s).
      const up = await waitFor(
        'ready again',
        async () => {
          const res = await request(base).get('/health/ready');
          return res.status === 200 ? res.body : undefined;
        },
        20_000,
      );
      expect(up.info.journalFeed.status).toBe('up');
    } finally {
      await proxy.resume();
      await app?.close();
      await proxy.stop();
      await database.drop();
    }
  }, 60_000);
});

/** A TCP proxy in front of the test PostgreSQL that can be cut (connections dropped, port closed). */
class PgProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly port: number,
    private readonly target: URL,
  ) {}

  static async start(target: URL): Promise<PgProxy> {
    const proxy = new PgProxy(await freePort(), target);
    await proxy.resume();
    return proxy;
  }

  resume(): Promise<void> {
    if (this.server) return Promise.resolve();
    const server = createServer((client) => {
      const upstream = connect(Number(this.target.port || 5432), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    this.server = server;
    return new Promise((ok, fail) => {
      server.once('error', fail);
      server.listen(this.port, '127.0.0.1', () => ok());
    });
  }

  /** Refuses new connections and resets every open one, as a database host going away. */
  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    return server ? new Promise((ok) => server.close(() => ok())) : Promise.resolve();
  }
}
