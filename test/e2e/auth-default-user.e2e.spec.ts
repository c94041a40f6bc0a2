import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/config.schema.js';
import { ConfigService } from '../../src/config/config.service.js';
import { startTestApp } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { basic } from './auth.support.js';

/**
 * Secure by default: with no authentication configured the platform generates a user `ditto`,
 * prints its password once, keeps only the hash, and the password survives a restart.
 */
let database: { url: string; drop: () => Promise<void> };

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

/** Boots with no AUTH_* setting at all; returns the app, its URL and what it printed while booting. */
async function boot(): Promise<{ app: INestApplication; baseUrl: string; printed: string }> {
  const config = new ConfigService(
    loadConfig({ LOG_LEVEL: 'warn', DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1' }),
  );
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = (chunk: unknown): boolean => {
    chunks.push(String(chunk));
    return true;
  };
  process.stdout.write = capture;
  process.stderr.write = capture;
  let app: INestApplication;
  try {
    app = await createApp(config);
    await app.listen(0, '127.0.0.1');
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  const { port } = app.getHttpServer().address() as { port: number };
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    printed: chunks.join('').replace(/\u001b\[[0-9;]*m/g, ''),
  };
}

const whoami = (baseUrl: string, headers: Record<string, string> = {}) =>
  fetch(`${baseUrl}/api/2/whoami`, { headers });

describe('the generated default user', () => {
  let password = '';

  it('is generated and printed once on the first start; nothing is open without it', async () => {
    const { app, baseUrl, printed } = await boot();
    try {
      const match = /generated user 'ditto' with password (\S+) /.exec(printed);
      expect(match).not.toBeNull();
      password = match?.[1] ?? '';
      expect(password.length).toBeGreaterThanOrEqual(20);
      expect(printed).toContain('AUTH_USERS');
      expect((await whoami(baseUrl)).status).toBe(401);
      expect((await fetch(baseUrl)).status).toBe(401);
      expect((await whoami(baseUrl, { authorization: basic('ditto', 'ditto') })).status).toBe(401);
      const res = await whoami(baseUrl, { authorization: basic('ditto', password) });
      expect(await res.json()).toEqual({ subjects: ['nginx:ditto'], defaultSubject: 'nginx:ditto' });
    } finally {
      await app.close();
    }
  });

  it('is kept across a restart, which prints no password', async () => {
    const { app, baseUrl, printed } = await boot();
    try {
      expect(printed).not.toContain(password);
      expect(printed).not.toContain('generated user');
      expect((await whoami(baseUrl, { authorization: basic('ditto', password) })).status).toBe(200);
      expect((await whoami(baseUrl)).status).toBe(401);
    } finally {
      await app.close();
    }
  });

  it('stores only a bcrypt hash', async () => {
    const { default: pg } = await import('pg');
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ username: string; password_hash: string }>(
        'SELECT username, password_hash FROM auth_generated_users',
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].username).toBe('ditto');
      expect(rows[0].password_hash).toMatch(/^\$2[aby]\$10\$/);
      expect(rows[0].password_hash).not.toContain(password);
    } finally {
      await db.end();
    }
  });
});

describe('AUTH_ANONYMOUS', () => {
  it('lets requests without credentials in as anonymous:anonymous', async () => {
    const t = await startTestApp({ AUTH_USERS: 'alice:alice-pw', AUTH_ANONYMOUS: 'true' });
    try {
      expect(await (await whoami(t.baseUrl)).json()).toEqual({
        subjects: ['anonymous:anonymous'],
        defaultSubject: 'anonymous:anonymous',
      });
      // Credentials, when sent, still count: wrong ones are refused.
      expect((await whoami(t.baseUrl, { authorization: basic('alice', 'x') })).status).toBe(401);
      expect((await whoami(t.baseUrl, { authorization: basic('alice', 'alice-pw') })).status).toBe(200);
      // A demo mode: policies are not enforced for anonymous requests, so alice's thing (whose
      // default policy names only nginx:alice) is open to them, and what they create gets a policy.
      const alice = { authorization: basic('alice', 'alice-pw'), 'content-type': 'application/json' };
      const put = await fetch(`${t.baseUrl}/api/2/things/demo:mine`, {
        method: 'PUT',
        headers: alice,
        body: JSON.stringify({ attributes: { owner: 'alice' } }),
      });
      expect(put.status).toBe(201);
      const read = await fetch(`${t.baseUrl}/api/2/things/demo:mine/attributes/owner`);
      expect(await read.json()).toBe('alice');
      const created = await fetch(`${t.baseUrl}/api/2/things/demo:theirs`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(created.status).toBe(201);
      const policy = await fetch(`${t.baseUrl}/api/2/policies/demo:theirs/entries/DEFAULT/subjects`, {
        headers: alice,
      });
      expect(policy.status).toBe(404);
      const own = await fetch(`${t.baseUrl}/api/2/policies/demo:theirs/entries/DEFAULT/subjects`);
      expect(Object.keys((await own.json()) as object)).toEqual(['anonymous:anonymous']);
    } finally {
      await t.close();
    }
  });
});
