import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * A real OpenID Connect issuer on loopback for tests: a discovery document and a JWKS, with keys
 * made here, and tokens signed with them. The platform verifies these tokens exactly as it would a
 * production issuer's (discovery, JWKS fetch, signature, claims); nothing in it is mocked.
 */
export class TestIssuer {
  private readonly keys: { kid: string; alg: 'RS256' | 'ES256'; privateKey: CryptoKey; jwk: JWK }[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<TestIssuer> {
    const ref: { issuer?: TestIssuer } = {};
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const issuer = ref.issuer;
      if (!issuer) return void res.writeHead(503).end();
      if (path === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: issuer.url, jwks_uri: `${issuer.url}/jwks` }));
      } else if (path === '/jwks') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: issuer.keys.map((k) => k.jwk) }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as { port: number };
    const issuer = new TestIssuer(server, `http://127.0.0.1:${port}`);
    ref.issuer = issuer;
    await issuer.addKey('RS256');
    return issuer;
  }

  /** A new signing key, published in the JWKS from now on (key rotation). */
  async addKey(alg: 'RS256' | 'ES256'): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const kid = `${alg}-${this.keys.length + 1}`;
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    this.keys.push({ kid, alg, privateKey, jwk });
    return kid;
  }

  /** A token for `sub`, signed with the newest key of `alg` (or the given kid). */
  async token(
    sub: string,
    opts: { alg?: 'RS256' | 'ES256'; kid?: string; expiresIn?: string } = {},
  ): Promise<string> {
    const key =
      [...this.keys]
        .reverse()
        .find((k) => (opts.kid ? k.kid === opts.kid : k.alg === (opts.alg ?? 'RS256'))) ?? this.keys[0];
    return new SignJWT({})
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .setIssuer(this.url)
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime(opts.expiresIn ?? '10m')
      .sign(key.privateKey);
  }

  close(): Promise<void> {
    return new Promise((ok) => this.server.close(() => ok()));
  }
}
