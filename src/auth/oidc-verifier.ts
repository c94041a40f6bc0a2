import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';

export interface OidcIssuer {
  /** The subject prefix: a token's `sub` becomes `<prefix>:<sub>`. */
  prefix: string;
  /** The `iss` its tokens carry, exactly as configured. */
  issuer: string;
}

export class OidcConfigError extends Error {}

/** `AUTH_OIDC_ISSUERS=<prefix>=<issuer URL>[,…]`; http:// only on loopback (tests, local setups). */
export function parseOidcIssuers(value: string): OidcIssuer[] {
  const issuers: OidcIssuer[] = [];
  value.split(',').forEach((entry, i) => {
    const item = entry.trim();
    if (item === '') return;
    const eq = item.indexOf('=');
    const prefix = item.slice(0, eq).trim();
    const issuer = item.slice(eq + 1).trim();
    const where = `AUTH_OIDC_ISSUERS: entry ${i + 1}`;
    if (eq <= 0 || prefix.includes(':') || prefix.includes(' ') || !URL.canParse(issuer)) {
      throw new OidcConfigError(`${where} is not <prefix>=<issuer URL>`);
    }
    const url = new URL(issuer);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      throw new OidcConfigError(`${where}: the issuer must be https:// (http:// only on loopback)`);
    }
    if (url.username !== '' || url.password !== '')
      throw new OidcConfigError(`${where}: no credentials in the URL`);
    issuers.push({ prefix, issuer });
  });
  return issuers;
}

/** Why a token was refused, for the 401's description; never contains the token. */
export class TokenRefused extends Error {}

/** After a failed discovery, the next attempt waits this long. */
const DISCOVERY_RETRY_MS = 10_000;
/** How soon an unknown `kid` may fetch the JWKS again (key rotation). */
const JWKS_COOLDOWN_MS = 2000;

interface IssuerState extends OidcIssuer {
  keys?: JWTVerifyGetKey;
  discovering?: Promise<JWTVerifyGetKey>;
  failedAt?: number;
}

/**
 * Verifies OpenID Connect access/ID tokens of the configured issuers. The keys come from each
 * issuer's discovery document, fetched on the first token of that issuer (never at boot, so an
 * issuer that is down does not stop the platform) and retried later when it fails; jose's remote
 * JWK set caches them and refetches on a `kid` it does not know.
 */
export class OidcVerifier {
  private readonly byIssuer = new Map<string, IssuerState>();

  constructor(
    issuers: readonly OidcIssuer[],
    private readonly timeoutMs: number,
  ) {
    for (const i of issuers) this.byIssuer.set(i.issuer, { ...i });
  }

  get size(): number {
    return this.byIssuer.size;
  }

  /** The subject `<prefix>:<sub>` of a valid token; throws TokenRefused otherwise. */
  async verify(token: string): Promise<string> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new TokenRefused('The bearer token is not a JWT.');
    }
    const state = typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
    if (!state) throw new TokenRefused('The issuer of the JWT is not trusted.');
    const keys = await this.keysOf(state);
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: state.issuer,
        algorithms: ['RS256', 'ES256'],
        clockTolerance: 30,
        requiredClaims: ['sub'],
      });
      if (typeof payload.sub !== 'string' || payload.sub === '')
        throw new TokenRefused('The JWT has no subject.');
      return `${state.prefix}:${payload.sub}`;
    } catch (err) {
      if (err instanceof TokenRefused) throw err;
      throw new TokenRefused(reason(err));
    }
  }

  private keysOf(state: IssuerState): Promise<JWTVerifyGetKey> {
    if (state.keys) return Promise.resolve(state.keys);
    if (state.failedAt !== undefined && Date.now() - state.failedAt < DISCOVERY_RETRY_MS) {
      return Promise.reject(new TokenRefused('The keys of the issuer are not available at the moment.'));
    }
    state.discovering ??= this.discover(state).then(
      (keys) => {
        state.keys = keys;
        state.failedAt = undefined;
        return keys;
      },
      (err: unknown) => {
        state.failedAt = Date.now();
        throw new TokenRefused(
          `The keys of the issuer are not available at the moment (${err instanceof Error ? err.message : 'error'}).`,
        );
      },
    );
    const pending = state.discovering;
    void pending.finally(() => (state.discovering = undefined)).catch(() => undefined);
    return pending;
  }

  private async discover(state: IssuerState): Promise<JWTVerifyGetKey> {
    const base = state.issuer.endsWith('/') ? state.issuer : `${state.issuer}/`;
    const res = await fetch(new URL('.well-known/openid-configuration', base), {
      signal: AbortSignal.timeout(this.timeoutMs),
      headers: { accept: 'application/json' },
    });
    if (!res.ok) throw new Error(`discovery answered ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (doc.issuer !== state.issuer) throw new Error('discovery names another issuer');
    if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri))
      throw new Error('discovery has no jwks_uri');
    return createRemoteJWKSet(new URL(doc.jwks_uri), {
      timeoutDuration: this.timeoutMs,
      cooldownDuration: JWKS_COOLDOWN_MS,
    });
  }
}

function reason(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'The JWT has expired.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The JWT claim '${err.claim}' is not valid.`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'The JWT is not signed with RS256 or ES256.';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'The JWT is not signed by a key of its issuer.';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'The signature of the JWT is not valid.';
  if (err instanceof joseErrors.JWKSTimeout) return 'The keys of the issuer are not available at the moment.';
  return 'The JWT is not valid.';
}
