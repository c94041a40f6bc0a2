import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import WebSocket from 'ws';

/** A real OpenID Connect issuer on loopback: discovery document and JWKS, keys added at will. */
export interface LocalIssuer {
  issuer: string;
  /** How often the JWKS was fetched. */
  jwksFetches: number;
  sign(alg: 'RS256' | 'ES256', claims: JWTPayload, opts?: { kid?: string; iss?: string }): Promise<string>;
  /** A new key of `alg` under `kid`, published in the JWKS from now on. */
  addKey(alg: 'RS256' | 'ES256', kid: string): Promise<void>;
  /** A key the JWKS never shows, claiming `kid`. */
  foreignKey(alg: 'RS256' | 'ES256' | 'RS384'): Promise<CryptoKey>;
  close(): Promise<void>;
}

export async function startLocalIssuer(): Promise<LocalIssuer> {
  const published: JWK[] = [];
  const keys = new Map<string, { alg: string; key: CryptoKey }>();
  let base = '';
  const issuer: LocalIssuer = {
    issuer: '',
    jwksFetches: 0,
    async sign(alg, claims, opts = {}) {
      const kid = opts.kid ?? (alg === 'RS256' ? 'rs-1' : 'es-1');
      const entry = keys.get(kid);
      if (!entry) throw new Error(`no key ${kid}`);
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg, kid })
        .setIssuer(opts.iss ?? base)
        .setIssuedAt();
      return (claims.exp === undefined ? jwt.setExpirationTime('5m') : jwt).sign(entry.key);
    },
    async addKey(alg, kid) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      keys.set(kid, { alg, key: privateKey });
      published.push({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' });
    },
    async foreignKey(alg) {
      return (await generateKeyPair(alg)).privateKey;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
      return;
    }
    if (req.url === '/jwks') {
      issuer.jwksFetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: published }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer.issuer = base;
  await issuer.addKey('RS256', 'rs-1');
  await issuer.addKey('ES256', 'es-1');
  return issuer;
}

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

/** base64url JSON, for hand-made tokens. */
export const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The HTTP status of a WebSocket upgrade to `url`: 101 when it opened, else the refusal's. */
export function wsStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

/** A GET with the path sent exactly as given (fetch would resolve dot segments first). */
export function rawGet(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The status and content type of an SSE request; the stream is dropped once the head arrived. */
export async function sseHead(url: string, headers: Record<string, string> = {}): Promise<[number, string]> {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const head: [number, string] = [res.status, res.headers.get('content-type') ?? ''];
  if (res.status !== 200) await res.text();
  abort.abort();
  return head;
}
