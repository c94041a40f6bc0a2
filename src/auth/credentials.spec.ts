import { describe, expect, it, jest } from '@jest/globals';
import bcrypt from 'bcryptjs';
import { BasicVerifier } from './basic-verifier.js';
import {
  MAX_TOKEN_LENGTH,
  parseAuthorization,
  parseHtpasswd,
  parsePreAuthenticated,
  parseUsersList,
  UsersConfigError,
} from './credentials.js';
import { isOpenPath } from './auth.middleware.js';
import { originAllowed } from './origin.js';
import { OidcConfigError, parseOidcIssuers } from './oidc-verifier.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('parseAuthorization', () => {
  it('reads Basic user:password (scheme in any case, password may hold colons)', () => {
    expect(parseAuthorization(`Basic ${b64('alice:pa:ss')}`)).toEqual({
      kind: 'basic',
      user: 'alice',
      password: 'pa:ss',
    });
    expect(parseAuthorization(`bAsIc   ${b64('a:b')}`)).toEqual({ kind: 'basic', user: 'a', password: 'b' });
  });

  it('reads a Bearer token', () => {
    expect(parseAuthorization('Bearer abc.def.ghi')).toEqual({ kind: 'bearer', token: 'abc.def.ghi' });
  });

  it.each([
    ['empty', ''],
    ['no scheme', b64('a:b')],
    ['unknown scheme', `Digest ${b64('a:b')}`],
    ['Basic without value', 'Basic'],
    ['Basic with blanks', 'Basic    '],
    ['bad base64', 'Basic !!!!'],
    ['base64 without padding', `Basic ${b64('ab:cd').replace(/=+$/, '')}`],
    ['no colon', `Basic ${b64('alice')}`],
    ['empty user', `Basic ${b64(':pw')}`],
    ['empty password', `Basic ${b64('alice:')}`],
    ['control char in user', `Basic ${b64('al\u0001ice:pw')}`],
    ['two values', `Basic ${b64('a:b')} ${b64('c:d')}`],
    ['Bearer empty', 'Bearer'],
    ['Bearer with space inside', 'Bearer abc def'],
    ['Bearer oversized', `Bearer ${'a'.repeat(MAX_TOKEN_LENGTH + 1)}`],
  ])('refuses %s', (_, header) => {
    expect(parseAuthorization(header).kind).toBe('malformed');
  });

  it('says none when there is no header', () => {
    expect(parseAuthorization(undefined)).toEqual({ kind: 'none' });
  });
});

describe('configured users', () => {
  it('parses AUTH_USERS and never quotes a bad entry', () => {
    const users = parseUsersList('alice:a:1, bob:b ,');
    expect([...users]).toEqual([
      ['alice', { kind: 'plain', password: 'a:1' }],
      ['bob', { kind: 'plain', password: 'b' }],
    ]);
    expect(() => parseUsersList('alice:ok,nopassword-secret')).toThrow(UsersConfigError);
    expect(() => parseUsersList('alice:ok,nopassword-secret')).not.toThrow(/secret/);
  });

  it('parses htpasswd bcrypt lines, skipping comments, and refuses other hashes', () => {
    const hash = bcrypt.hashSync('pw', 4).replace('$2b$', '$2y$');
    const users = parseHtpasswd(`# comment\n\nalice:${hash}\r\n`, 'f');
    expect(users.get('alice')).toEqual({ kind: 'bcrypt', hash });
    expect(() => parseHtpasswd('ditto:{SSHA}XpRCWSFslcdYRYbi6Ls6sw7qbx2AJxWLgRGlIg==', 'f')).toThrow(
      /line 1/,
    );
    expect(() => parseHtpasswd('nocolon', 'f')).toThrow(UsersConfigError);
  });

  it('verifies plain and bcrypt users and remembers only successes', async () => {
    const v = new BasicVerifier(
      new Map([
        ['alice', { kind: 'plain', password: 'secret' } as const],
        ['bob', { kind: 'bcrypt', hash: bcrypt.hashSync('bob-pw', 4).replace('$2b$', '$2y$') } as const],
      ]),
    );
    expect(await v.verify('alice', 'secret')).toBe('alice');
    expect(await v.verify('alice', 'secret ')).toBeUndefined();
    expect(await v.verify('Alice', 'secret')).toBeUndefined();
    expect(await v.verify('bob', 'bob-pw')).toBe('bob');
    expect(await v.verify('bob', 'wrong')).toBeUndefined();
    expect(await v.verify('carol', 'secret')).toBeUndefined();
    // bcrypt costs tens of milliseconds per check at real costs: a known pair is not checked again.
    const compare = jest.spyOn(bcrypt, 'compare');
    try {
      for (let i = 0; i < 100; i++) expect(await v.verify('bob', 'bob-pw')).toBe('bob');
      expect(await v.verify('bob', 'wrong')).toBeUndefined();
      expect(compare).toHaveBeenCalledTimes(1);
    } finally {
      compare.mockRestore();
    }
  });
});

describe('pre-authenticated subject, OIDC issuers, open paths, origins', () => {
  it('accepts <issuer>:<subject> only', () => {
    expect(parsePreAuthenticated('nginx:alice')).toBe('nginx:alice');
    for (const bad of ['alice', ':alice', 'nginx:', 'nginx:a b', 'a:b,c:d', `x:${'a'.repeat(300)}`]) {
      expect(parsePreAuthenticated(bad)).toBeUndefined();
    }
  });

  it('parses issuers; http only on loopback', () => {
    expect(parseOidcIssuers('kc=https://id.example.com/realms/r, local=http://127.0.0.1:8090')).toEqual([
      { prefix: 'kc', issuer: 'https://id.example.com/realms/r' },
      { prefix: 'local', issuer: 'http://127.0.0.1:8090' },
    ]);
    expect(() => parseOidcIssuers('kc=http://id.example.com')).toThrow(OidcConfigError);
    expect(() => parseOidcIssuers('https://id.example.com')).toThrow(OidcConfigError);
    expect(() => parseOidcIssuers('kc=https://u:p@id.example.com')).toThrow(OidcConfigError);
  });

  it('opens only health, metrics and the docs, never through dot segments', () => {
    for (const p of [
      '/health',
      '/health/',
      '/health/live',
      '/metrics',
      '/api/docs',
      '/api/docs/swagger-ui.css',
      '/api/docs-json',
    ]) {
      expect(isOpenPath(p)).toBe(true);
    }
    for (const p of [
      '/',
      '/index.html',
      '/api/2/things',
      '/healthz',
      '/metrics/x',
      '/metrics/../index.html',
      '/api/docsx',
      '/health/../index.html',
      '/health/%2e%2e/index.html',
      '/health%2F..%2Findex.html',
      '/api/docs/../2/things',
      '/health/..\\index.html',
      '/health/%E0%A4%A',
    ]) {
      expect(isOpenPath(p)).toBe(false);
    }
  });

  it('allows a WebSocket from no origin, the own host and CORS_ORIGINS', () => {
    expect(originAllowed(undefined, 'h:1', '')).toBe(true);
    expect(originAllowed('http://h:1', 'h:1', '')).toBe(true);
    expect(originAllowed('http://example.com', 'example.com:80', '')).toBe(true);
    expect(originAllowed('http://evil.example', 'h:1', '')).toBe(false);
    expect(originAllowed('null', 'h:1', '')).toBe(false);
    expect(originAllowed('https://app.example', 'h:1', 'https://app.example, https://b.example')).toBe(true);
    expect(originAllowed('http://app.example', 'h:1', 'https://app.example')).toBe(false);
    expect(originAllowed('https://any.example', 'h:1', '*')).toBe(true);
  });
});
