import type { IncomingMessage, ServerResponse } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import pg from 'pg';
import request from 'supertest';
import { createApp, type AppOptions } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/config.schema.js';
import { ConfigService } from '../../src/config/config.service.js';
import { TEST_USERS, withTestAuth, type TestUserName } from './auth.js';
import { createTestDatabase } from './database.js';
import { expectDittoResponse } from './openapi.js';

export interface TestApp {
  app: INestApplication;
  /** http://127.0.0.1:<port> of the listening app. */
  baseUrl: string;
  /** host:port, as the Ditto client's withDomain wants it. */
  domain: string;
  /** A direct connection to the app's database, for asserting what was stored. */
  db: pg.Client;
  close(): Promise<void>;
}

/**
 * Boots the real application on a fresh database (real migrations) and a free port, with
 * authentication on: the test users (./auth.ts) unless `env` configures authentication itself.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  options: AppOptions = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = new ConfigService(
    loadConfig({
      LOG_LEVEL: 'error',
      ...withTestAuth(env),
      DATABASE_URL: database.url,
      PORT: '0',
      HOST: '127.0.0.1',
    }),
  );
  const violations: string[] = [];
  // Before anything answers a route (the direct reads included), so it sees every API response.
  const app = await createApp(config, { ...options, beforeRoutes: validateAgainstDittoSpec(violations) });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  return {
    app,
    baseUrl: `http://127.0.0.1:${address.port}`,
    domain: `127.0.0.1:${address.port}`,
    db,
    close: async () => {
      await db.end();
      await app.close();
      await database.drop();
      if (violations.length > 0) {
        throw new Error(`responses that break Ditto's OpenAPI spec:\n${violations.join('\n\n')}`);
      }
    },
  };
}

const PLATFORM_PATHS = ['/api/2/ingest/', '/api/2/sync/', '/api/2/devices/', '/api/2/forecasting/'];
/** Platform additions under Ditto's things URL space (device credentials). */
const PLATFORM_THING_PATHS = /^\/api\/2\/things\/[^/?]+\/credentials(?:\?|$)/;

type Method = 'get' | 'put' | 'patch' | 'post' | 'delete';

/**
 * supertest requests, signed in as `user` (HTTP basic), whose responses are all checked against
 * Ditto's OpenAPI spec before any other assertion, so no JSON body of the e2e suite escapes
 * validation.
 */
export function dittoHttp(
  baseUrl: string,
  user: TestUserName = 'ditto',
): Record<Method, (path: string) => request.Test> {
  const { username, password } = TEST_USERS[user];
  const make = (method: Method) => (path: string) =>
    request(baseUrl)
      [method](path)
      .auth(username, password)
      // The request's final path, with the query added by .query() after this call.
      .expect((res) =>
        expectDittoResponse(method, (res as unknown as { req: { path: string } }).req.path, res),
      );
  return {
    get: make('get'),
    put: make('put'),
    patch: make('patch'),
    post: make('post'),
    delete: make('delete'),
  };
}

/**
 * Checks every /api/2 response the app sends, whoever the client is (supertest, the official
 * Ditto client, fetch), against Ditto's spec; close() fails the suite if any did not match.
 */
function validateAgainstDittoSpec(violations: string[]) {
  return (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void): void => {
    const url = req.originalUrl ?? req.url ?? '';
    if (!url.startsWith('/api/2/')) return next();
    // Ditto's SSE (its own page in Ditto's docs) is not part of its OpenAPI spec.
    if (req.headers.accept?.includes('text/event-stream')) return next();
    // The platform's additions to Ditto's API, which Ditto's spec cannot describe.
    if (PLATFORM_PATHS.some((p) => url.startsWith(p)) || PLATFORM_THING_PATHS.test(url)) return next();
    const chunks: Buffer[] = [];
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    const collect = (chunk: unknown): void => {
      if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
      else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    };
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      collect(chunk);
      return write(chunk, ...rest);
    }) as typeof res.write;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (typeof chunk !== 'function') collect(chunk);
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        expectDittoResponse(req.method ?? 'GET', url, {
          status: res.statusCode,
          headers: lowerCaseHeaders(res.getHeaders()),
          text,
          body: undefined,
        });
      } catch (err) {
        violations.push((err as Error).message);
      }
      return end(chunk, ...rest);
    }) as typeof res.end;
    next();
  };
}

function lowerCaseHeaders(h: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}
