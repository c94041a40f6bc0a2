import { request as httpRequest, Agent, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import pg from 'pg';
import { closeApp, createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/config.schema.js';
import { ConfigService } from '../../src/config/config.service.js';
import { basicAuthHeader, withTestAuth } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';

/**
 * A stopping platform (SIGTERM runs closeApp) answers what it has accepted: it stops taking
 * connections, lets the requests in flight finish against a database still open, tells clients
 * on kept-alive connections to go elsewhere, and only then closes.
 */

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let app: INestApplication;
let port: number;

beforeAll(async () => {
  database = await createTestDatabase();
  const config = new ConfigService(
    loadConfig({
      LOG_LEVEL: 'error',
      ...withTestAuth(),
      DATABASE_URL: database.url,
      PORT: '0',
      HOST: '127.0.0.1',
      HTTP_SHUTDOWN_DRAIN_MS: '20000',
    }),
  );
  app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  port = (app.getHttpServer().address() as { port: number }).port;
});
let closed = false;
afterAll(async () => {
  if (!closed) await app?.close();
  await database.drop();
});

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function answerOf(res: IncomingMessage): Promise<Answer> {
  return new Promise((ok, fail) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (body += c));
    res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    res.on('error', fail);
  });
}

function get(path: string): Promise<Answer> {
  return new Promise((ok, fail) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, agent: false, headers: { authorization: basicAuthHeader() } },
      (res) => {
        answerOf(res).then(ok, fail);
      },
    );
    req.on('error', fail);
    req.end();
  });
}

const pause = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** A request whose body is sent in two halves, the second when `finish` is called. */
function halfSent(
  method: string,
  path: string,
  type: string,
  body: string,
): { answer: Promise<Answer>; finish: () => void } {
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method,
    path,
    agent: new Agent({ keepAlive: true }),
    headers: {
      authorization: basicAuthHeader(),
      'content-type': type,
      'content-length': Buffer.byteLength(body),
    },
  });
  const answer = new Promise<Answer>((ok, fail) => {
    req.on('response', (res) => {
      answerOf(res).then(ok, fail);
    });
    req.on('error', fail);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return { answer, finish: () => req.end(body.slice(half)) };
}

describe('shutdown drains HTTP', () => {
  it('answers a write and a search whose bodies arrive after the stop began, closing their connections, and refuses new connections', async () => {
    expect((await get('/api/2/things/org.drain:none')).status).toBe(404);
    expect((await get('/health/live')).status).toBe(200);

    // A write and a search (a form POST: it reads on the query pool) half sent when the platform
    // is told to stop.
    const put = halfSent(
      'PUT',
      '/api/2/things/org.drain:late',
      'application/json',
      JSON.stringify({ attributes: { note: 'x'.repeat(2000) } }),
    );
    const search = halfSent(
      'POST',
      '/api/2/search/things',
      'application/x-www-form-urlencoded',
      `filter=${encodeURIComponent('exists(thingId)')}&fields=thingId&namespaces=org.drain&pad=${'y'.repeat(2000)}`,
    );
    await pause(200);
    const closing = closeApp(app).then(() => (closed = true));
    // Long enough for the application to have closed its pools, had it not waited.
    await pause(1500);

    // No new connection is taken, and the platform waits for the two.
    await expect(get('/health/live')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(closed).toBe(false);

    put.finish();
    const written = await put.answer;
    expect(written.status).toBe(201);
    expect(written.headers.connection).toBe('close');
    expect(JSON.parse(written.body)).toMatchObject({ thingId: 'org.drain:late' });
    search.finish();
    const found = await search.answer;
    expect(found.status).toBe(200);
    expect(JSON.parse(found.body)).toEqual({ items: [{ thingId: 'org.drain:late' }] });
    await closing;

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ thing_id: string }>(
        `SELECT thing_id FROM things WHERE thing_id = 'org.drain:late'`,
      );
      expect(rows).toHaveLength(1);
    } finally {
      await db.end();
    }
  }, 30_000);
});
