import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import bcrypt from 'bcryptjs';
import { SignJWT, UnsecuredJWT } from 'jose';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../support/app.js';
import { expectDittoResponse } from '../support/openapi.js';
import {
  b64url,
  basic,
  rawGet,
  sseHead,
  startLocalIssuer,
  wsStatus,
  type LocalIssuer,
} from './auth.support.js';

/**
 * Authentication of every entry point against real verifiers: configured users, an htpasswd
 * file with bcrypt hashes, a local OpenID Connect issuer serving its discovery document and JWKS.
 */
let t: TestApp;
let issuer: LocalIssuer;
let dir: string;
const ALICE = basic('alice', 'alice-pw');
const CORS_ORIGIN = 'https://app.example';
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  issuer = await startLocalIssuer();
  dir = mkdtempSync(join(tmpdir(), 'auth-e2e-'));
  const file = join(dir, 'htpasswd');
  const hash = bcrypt.hashSync('carol-pw', 10).replace('$2b$', '$2y$');
  writeFileSync(file, `# users\ncarol:${hash}\n`);
  t = await startTestApp({
    AUTH_USERS: 'alice:alice-pw,bob:b0b:with-colon',
    AUTH_USERS_FILE: file,
    AUTH_OIDC_ISSUERS: `local=${issuer.issuer}`,
    AUTH_FAILURE_LIMIT: '100000',
    CORS_ORIGINS: CORS_ORIGIN,
  });
});
afterAll(async () => {
  await t?.close();
  await issuer?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function whoami(headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${t.baseUrl}/api/2/whoami`, { headers });
  const text = await res.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (res.status === 200)
    expectDittoResponse('get', '/api/2/whoami', {
      status: 200,
      headers: { 'content-type': res.headers.get('content-type') },
      body,
      text,
    });
  return { status: res.status, body };
}

describe('who may come in', () => {
  it.each([
    ['AUTH_USERS', () => ALICE, 'nginx:alice'],
    ['AUTH_USERS, password with a colon', () => basic('bob', 'b0b:with-colon'), 'nginx:bob'],
    ['htpasswd bcrypt', () => basic('carol', 'carol-pw'), 'nginx:carol'],
    ['lower-case scheme', () => ALICE.replace('Basic', 'basic'), 'nginx:alice'],
  ])('basic from %s', async (_, header, subject) => {
    expect(await whoami({ authorization: header() })).toEqual({
      status: 200,
      body: { subjects: [subject], defaultSubject: subject },
    });
  });

  it.each(['RS256', 'ES256'] as const)('bearer %s from the local issuer', async (alg) => {
    const token = await issuer.sign(alg, { sub: `user-${alg}` });
    const subject = `local:user-${alg}`;
    expect(await whoami({ authorization: `Bearer ${token}` })).toEqual({
      status: 200,
      body: { subjects: [subject], defaultSubject: subject },
    });
  });

  it('fetches the JWKS again for a key it does not know yet (rotation)', async () => {
    await whoami({ authorization: `Bearer ${await issuer.sign('RS256', { sub: 'warm' })}` });
    const before = issuer.jwksFetches;
    await issuer.addKey('RS256', 'rs-2');
    // jose refetches an unknown kid at most every couple of seconds.
    await new Promise((r) => setTimeout(r, 2200));
    const token = await issuer.sign('RS256', { sub: 'rotated' }, { kid: 'rs-2' });
    expect((await whoami({ authorization: `Bearer ${token}` })).status).toBe(200);
    expect(issuer.jwksFetches).toBeGreaterThan(before);
  });
});

describe('bad credentials', () => {
  /** Built lazily: the tokens need the issuer. Each is refused 401 (431 when the header is too big). */
  const cases: [string, () => Record<string, string> | Promise<Record<string, string>>][] = [
    ['no Authorization header', () => ({})],
    ['no scheme', () => ({ authorization: Buffer.from('alice:alice-pw').toString('base64') })],
    [
      'unknown scheme',
      () => ({ authorization: `Digest ${Buffer.from('alice:alice-pw').toString('base64')}` }),
    ],
    ['Basic without value', () => ({ authorization: 'Basic' })],
    ['Basic with bad base64', () => ({ authorization: 'Basic !!!not-base64' })],
    ['Basic without colon', () => ({ authorization: `Basic ${Buffer.from('alice').toString('base64')}` })],
    ['Basic with empty user', () => ({ authorization: basic('', 'alice-pw') })],
    ['Basic with empty password', () => ({ authorization: basic('alice', '') })],
    ['unknown user', () => ({ authorization: basic('mallory', 'alice-pw') })],
    ['wrong password', () => ({ authorization: basic('alice', 'alice-pwx') })],
    ['user in another case', () => ({ authorization: basic('Alice', 'alice-pw') })],
    ['password with a trailing space', () => ({ authorization: basic('alice', 'alice-pw ') })],
    ['password of another user', () => ({ authorization: basic('alice', 'carol-pw') })],
    ['htpasswd user, wrong password', () => ({ authorization: basic('carol', 'carol-pW') })],
    ['htpasswd user sending the hash', () => ({ authorization: basic('carol', '$2y$10$abc') })],
    ['two Basic values', () => ({ authorization: `${ALICE} ${ALICE.slice(6)}` })],
    ['Bearer empty', () => ({ authorization: 'Bearer' })],
    ['Bearer garbage', () => ({ authorization: 'Bearer garbage' })],
    ['Bearer with Basic credentials', () => ({ authorization: `Bearer ${ALICE.slice(6)}` })],
    [
      'Basic with a JWT',
      async () => ({ authorization: `Basic ${await issuer.sign('RS256', { sub: 'x' })}` }),
    ],
    [
      'JWT alg none',
      () => ({
        authorization: `Bearer ${new UnsecuredJWT({ sub: 'x' }).setIssuer(issuer.issuer).setIssuedAt().setExpirationTime('5m').encode()}`,
      }),
    ],
    [
      'JWT alg none, kid of a real key',
      () => ({
        authorization: `Bearer ${b64url({ alg: 'none', kid: 'rs-1' })}.${b64url({ iss: issuer.issuer, sub: 'x', exp: now() + 60 })}.`,
      }),
    ],
    [
      'JWT signed by a key not in the JWKS',
      async () => ({
        authorization: `Bearer ${await new SignJWT({ sub: 'x' })
          .setProtectedHeader({ alg: 'RS256', kid: 'nope' })
          .setIssuer(issuer.issuer)
          .setExpirationTime('5m')
          .sign(await issuer.foreignKey('RS256'))}`,
      }),
    ],
    [
      'JWT signed by another key under a known kid',
      async () => ({
        authorization: `Bearer ${await new SignJWT({ sub: 'x' })
          .setProtectedHeader({ alg: 'ES256', kid: 'es-1' })
          .setIssuer(issuer.issuer)
          .setExpirationTime('5m')
          .sign(await issuer.foreignKey('ES256'))}`,
      }),
    ],
    [
      'JWT with a tampered payload',
      async () => {
        const [h, , s] = (await issuer.sign('RS256', { sub: 'x' })).split('.');
        return {
          authorization: `Bearer ${h}.${b64url({ iss: issuer.issuer, sub: 'admin', exp: now() + 60 })}.${s}`,
        };
      },
    ],
    [
      'JWT of an unknown issuer',
      async () => ({
        authorization: `Bearer ${await issuer.sign('RS256', { sub: 'x' }, { iss: 'https://evil.example' })}`,
      }),
    ],
    [
      'JWT issuer with a trailing slash',
      async () => ({
        authorization: `Bearer ${await issuer.sign('RS256', { sub: 'x' }, { iss: `${issuer.issuer}/` })}`,
      }),
    ],
    [
      'JWT expired beyond the skew',
      async () => ({ authorization: `Bearer ${await issuer.sign('RS256', { sub: 'x', exp: now() - 120 })}` }),
    ],
    [
      'JWT not valid yet (nbf)',
      async () => ({ authorization: `Bearer ${await issuer.sign('ES256', { sub: 'x', nbf: now() + 600 })}` }),
    ],
    ['JWT without sub', async () => ({ authorization: `Bearer ${await issuer.sign('RS256', {})}` })],
    [
      'JWT with an empty sub',
      async () => ({ authorization: `Bearer ${await issuer.sign('RS256', { sub: '' })}` }),
    ],
    [
      'JWT HS256 with a guessable secret',
      async () => ({
        authorization: `Bearer ${await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256', kid: 'rs-1' }).setIssuer(issuer.issuer).setExpirationTime('5m').sign(new TextEncoder().encode('secret'))}`,
      }),
    ],
    [
      'JWT RS384 (algorithm not allowed)',
      async () => ({
        authorization: `Bearer ${await new SignJWT({ sub: 'x' })
          .setProtectedHeader({ alg: 'RS384' })
          .setIssuer(issuer.issuer)
          .setExpirationTime('5m')
          .sign(await issuer.foreignKey('RS384'))}`,
      }),
    ],
    ['bearer of 9 kB', () => ({ authorization: `Bearer ${'a'.repeat(9000)}` })],
    ['bearer of 12 kB', () => ({ authorization: `Bearer ${'a'.repeat(12 * 1024)}` })],
    ['pre-authenticated header (not trusted here)', () => ({ 'x-ditto-pre-authenticated': 'nginx:alice' })],
    [
      'pre-authenticated header with a bad password',
      () => ({ 'x-ditto-pre-authenticated': 'nginx:alice', authorization: basic('alice', 'x') }),
    ],
    [
      'access_token on a REST request',
      async () => ({ 'x-query': `access_token=${await issuer.sign('RS256', { sub: 'x' })}` }),
    ],
  ];

  it(`has at least 30 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases.map(([name, make], i) => [name, make, i] as const))(
    '%s: 401, nothing changed',
    async (_, make, i) => {
      const { 'x-query': query, ...headers } = await make();
      const path = `/api/2/things/org.auth:bad-${i}${query ? `?${query}` : ''}`;
      const res = await fetch(`${t.baseUrl}${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ attributes: { by: 'nobody' } }),
      });
      const text = await res.text();
      if (res.status === 431) return;
      expect(res.status).toBe(401);
      const body = JSON.parse(text) as {
        status: number;
        error: string;
        message: string;
        description?: string;
      };
      expect(body).toMatchObject({ status: 401, error: 'gateway:authentication.failed' });
      expect(typeof body.message).toBe('string');
      expect(res.headers.get('www-authenticate')).toMatch(/^(Basic|Bearer) realm="ditto"/);
      expectDittoResponse('put', `/api/2/things/org.auth:bad-${i}`, {
        status: 401,
        headers: { 'content-type': res.headers.get('content-type') },
        body,
        text,
      });
      // Never echoed: neither a password nor a token.
      for (const secret of ['alice-pw', 'carol-pw', headers.authorization?.slice(7, 40)].filter(Boolean)) {
        expect(text).not.toContain(secret);
      }
    },
  );

  it('changed nothing, and the server still answers', async () => {
    for (let i = 0; i < cases.length; i++) {
      const res = await fetch(`${t.baseUrl}/api/2/things/org.auth:bad-${i}`, {
        headers: { authorization: ALICE },
      });
      expect(res.status).toBe(404);
      await res.text();
    }
    const put = await fetch(`${t.baseUrl}/api/2/things/org.auth:good`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: ALICE },
      body: '{}',
    });
    expect(put.status).toBe(201);
  });
});

describe('open and closed paths', () => {
  it('opens health and the API docs only', async () => {
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/api/docs`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/api/docs-json`)).status).toBe(200);
    for (const path of [
      '/',
      '/index.html',
      '/dashboard.js',
      '/vendor/uplot/uPlot.min.css',
      '/api/2/search/things',
      '/api/2/ingest/stats',
    ]) {
      const res = await fetch(`${t.baseUrl}${path}`);
      expect([path, res.status]).toEqual([path, 401]);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="ditto"');
    }
  });

  it('does not open the dashboard through dot segments under an open path', async () => {
    for (const path of [
      '/health/../index.html',
      '/health/%2e%2e/index.html',
      '/health%2F..%2Findex.html',
      '/api/docs/../../index.html',
    ]) {
      expect([path, await rawGet(t.baseUrl, path)]).toEqual([path, 401]);
    }
  });

  it('serves the dashboard with security headers to a signed-in user, not the API', async () => {
    const page = await fetch(t.baseUrl, { headers: { authorization: ALICE } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script src="/dashboard.js"></script>');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const api = await fetch(`${t.baseUrl}/api/2/whoami`, { headers: { authorization: ALICE } });
    expect(api.headers.get('content-security-policy')).toBeNull();
  });
});

describe('WebSocket and SSE', () => {
  const ws = () => `${t.baseUrl.replace('http', 'ws')}/ws/2`;

  it('refuses an upgrade without or with bad credentials with a plain 401', async () => {
    expect(await wsStatus(ws())).toBe(401);
    expect(await wsStatus(ws(), { authorization: basic('alice', 'nope') })).toBe(401);
    expect(await wsStatus(`${ws()}?access_token=garbage`)).toBe(401);
  });

  it('opens with basic, a bearer header or an access_token parameter', async () => {
    expect(await wsStatus(ws(), { authorization: ALICE })).toBe(101);
    const token = await issuer.sign('ES256', { sub: 'browser' });
    expect(await wsStatus(ws(), { authorization: `Bearer ${token}` })).toBe(101);
    expect(await wsStatus(`${ws()}?access_token=${token}`)).toBe(101);
  });

  it('refuses a foreign origin with 403 and allows its own and CORS_ORIGINS', async () => {
    expect(await wsStatus(ws(), { authorization: ALICE, origin: 'https://evil.example' })).toBe(403);
    expect(await wsStatus(ws(), { authorization: ALICE, origin: CORS_ORIGIN })).toBe(101);
    expect(await wsStatus(ws(), { authorization: ALICE, origin: t.baseUrl })).toBe(101);
  });

  it('streams SSE with access_token, refuses it without credentials', async () => {
    const token = await issuer.sign('RS256', { sub: 'sse' });
    const [status, type] = await sseHead(`${t.baseUrl}/api/2/things?access_token=${token}`);
    expect(status).toBe(200);
    expect(type).toContain('text/event-stream');
    expect((await sseHead(`${t.baseUrl}/api/2/things`))[0]).toBe(401);
    expect((await sseHead(`${t.baseUrl}/api/2/things?access_token=garbage`))[0]).toBe(401);
  });
});

describe('pre-authentication and failure limit', () => {
  let p: TestApp;
  beforeAll(async () => {
    p = await startTestApp({
      AUTH_USERS: 'alice:alice-pw',
      AUTH_PRE_AUTHENTICATED: 'true',
      AUTH_FAILURE_LIMIT: '3',
    });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('trusts the pre-authenticated subject when enabled, refuses a malformed one', async () => {
    const res = await fetch(`${p.baseUrl}/api/2/whoami`, {
      headers: { 'x-ditto-pre-authenticated': 'nginx:proxied' },
    });
    expect(await res.json()).toEqual({ subjects: ['nginx:proxied'], defaultSubject: 'nginx:proxied' });
    expect((await fetch(`${p.baseUrl}/api/2/whoami`, { headers: { authorization: ALICE } })).status).toBe(
      200,
    );
    const bad = await fetch(`${p.baseUrl}/api/2/whoami`, {
      headers: { 'x-ditto-pre-authenticated': 'proxied' },
    });
    expect(bad.status).toBe(401);
  });

  it('answers 429 with Retry-After once an address failed too often, for HTTP and WebSocket', async () => {
    for (let i = 0; i < 2; i++) {
      expect(
        (
          await fetch(`${p.baseUrl}/api/2/whoami`, {
            headers: { authorization: basic('alice', `guess-${i}`) },
          })
        ).status,
      ).toBe(401);
    }
    const limited = await fetch(`${p.baseUrl}/api/2/whoami`, {
      headers: { authorization: basic('alice', 'guess-x') },
    });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ status: 429, error: 'gateway:too.many.requests' });
    expect(await wsStatus(`${p.baseUrl.replace('http', 'ws')}/ws/2`, { authorization: ALICE })).toBe(429);
    expect((await fetch(`${p.baseUrl}/health`)).status).toBe(200);
  });
});
