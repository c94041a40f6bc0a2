import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { DomainError } from '../common/domain-error.js';
import { Errors } from '../common/errors.js';
import { ConfigError } from '../config/config.schema.js';
import { ConfigService } from '../config/config.service.js';
import { authContext, type AuthContext } from './auth-context.js';
import { BasicVerifier } from './basic-verifier.js';
import {
  parseAuthorization,
  parseHtpasswd,
  parsePreAuthenticated,
  parseUsersList,
  type Presented,
  type StoredSecret,
  UsersConfigError,
} from './credentials.js';
import { GeneratedUserRepository } from './generated-user.repository.js';
import { OidcConfigError, OidcVerifier, parseOidcIssuers, TokenRefused } from './oidc-verifier.js';

/** What authenticate() reads of a request: an IncomingMessage fits, a WebSocket upgrade too. */
export interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
  url?: string;
  method?: string;
  socket?: { remoteAddress?: string };
}

export const BASIC_SUBJECT_ISSUER = 'nginx';
/** AUTH_ANONYMOUS=true: a demo mode where policies are not enforced (documented as such). */
export const ANONYMOUS: AuthContext = { ...authContext(['anonymous:anonymous']), unrestricted: true };
const GENERATED_USER = 'ditto';
const BEARER_CHALLENGE = 'Bearer realm="ditto", error="invalid_token"';
/**
 * Failed authentications counted per client address, and how long the window runs (from an
 * address's first failure, the limiter's fixed window; from its last failure, ours).
 */
const FAILURE_WINDOW_MS = 60_000;

/**
 * Authenticates every entry point the same way: HTTP basic against configured users, OpenID
 * Connect bearer tokens, a trusted proxy's pre-authenticated subject. Secure by default: with
 * nothing configured, a generated user guards the platform. Failed attempts are limited per
 * client address, so guessing passwords (and making us run bcrypt) stays slow.
 */
@Injectable()
export class AuthService implements OnModuleInit {
  private readonly logger = new Logger('Auth');
  private basic = new BasicVerifier(new Map());
  private readonly oidc: OidcVerifier;
  private readonly failures: RateLimiterMemory;
  /** Addresses with a failure in the last minute, in the order of their last failure, and until when. */
  private readonly failedRecently = new Map<string, number>();
  private readonly failureLimit: number;

  constructor(
    @Inject(ConfigService) private readonly config: ConfigService,
    @Inject(GeneratedUserRepository) private readonly generated: GeneratedUserRepository,
  ) {
    this.oidc = new OidcVerifier(
      configured(() => parseOidcIssuers(config.get('AUTH_OIDC_ISSUERS') ?? '')),
      config.get('AUTH_OIDC_TIMEOUT_MS'),
    );
    this.failureLimit = config.get('AUTH_FAILURE_LIMIT');
    this.failures = new RateLimiterMemory({ points: this.failureLimit, duration: FAILURE_WINDOW_MS / 1000 });
  }

  async onModuleInit(): Promise<void> {
    const users = new Map<string, StoredSecret>();
    const file = this.config.get('AUTH_USERS_FILE');
    if (file !== undefined) {
      const text = configured(() => readFileSync(file, 'utf8'), `AUTH_USERS_FILE: cannot read ${file}`);
      for (const [u, s] of configured(() => parseHtpasswd(text, `AUTH_USERS_FILE ${file}`))) users.set(u, s);
    }
    // AUTH_USERS wins over the file for a user named in both.
    for (const [u, s] of configured(() => parseUsersList(this.config.get('AUTH_USERS') ?? '')))
      users.set(u, s);
    const anonymous = this.config.get('AUTH_ANONYMOUS');
    if (anonymous) {
      this.logger.warn(
        'AUTH_ANONYMOUS=true: requests without credentials are let in as anonymous:anonymous. Anyone who reaches this port can read and change every twin.',
      );
    } else if (users.size === 0 && this.oidc.size === 0 && !this.config.get('AUTH_PRE_AUTHENTICATED')) {
      users.set(GENERATED_USER, { kind: 'bcrypt', hash: await this.generatedUserHash() });
    }
    this.basic = new BasicVerifier(users);
  }

  /** The subjects the request acts for; throws a DomainError (401, or 429 after too many failures). */
  async authenticate(req: AuthRequest): Promise<AuthContext> {
    const address = req.socket?.remoteAddress ?? 'unknown';
    // Only an address that failed within the limiter's minute can be over the limit: the others
    // (every well-behaved client) need not wait for the limiter's answer on each request.
    const failedUntil = this.failedRecently.get(address);
    if (failedUntil !== undefined && failedUntil > Date.now()) {
      const record = await this.failures.get(address);
      if (record && record.consumedPoints >= this.failureLimit) {
        throw Errors.authenticationRateLimited(Math.max(1, Math.ceil(record.msBeforeNext / 1000)));
      }
    }
    try {
      return await this.identify(req);
    } catch (err) {
      if (err instanceof DomainError) {
        this.noteFailure(address);
        await this.failures.penalty(address, 1);
      }
      throw err;
    }
  }

  /** Remembers when `address` last failed, for FAILURE_WINDOW_MS; the oldest entries go first. */
  private noteFailure(address: string): void {
    const now = Date.now();
    this.failedRecently.delete(address);
    this.failedRecently.set(address, now + FAILURE_WINDOW_MS);
    for (const [a, until] of this.failedRecently) {
      if (until > now) break;
      this.failedRecently.delete(a);
    }
  }

  private async identify(req: AuthRequest): Promise<AuthContext> {
    if (this.config.get('AUTH_PRE_AUTHENTICATED')) {
      const raw = header(req, 'x-ditto-pre-authenticated');
      if (raw !== undefined) {
        const subject = parsePreAuthenticated(raw);
        if (subject === undefined) {
          throw Errors.authenticationFailed('The pre-authenticated subject must be <issuer>:<subject>.');
        }
        return authContext([subject]);
      }
    }
    const presented = this.presented(req);
    switch (presented.kind) {
      case 'basic': {
        const user = await this.basic.verify(presented.user, presented.password);
        if (user === undefined) throw Errors.authenticationFailed('Check the user name and password.');
        return authContext([`${BASIC_SUBJECT_ISSUER}:${user}`]);
      }
      case 'bearer':
        return this.bearer(presented.token);
      case 'malformed':
        throw presented.scheme === 'bearer'
          ? Errors.authenticationFailed('The bearer token is malformed.', BEARER_CHALLENGE)
          : Errors.authenticationFailed(
              'The Authorization header must be "Basic <base64 of user:password>" or "Bearer <JWT>".',
            );
      case 'none':
        if (this.config.get('AUTH_ANONYMOUS')) return ANONYMOUS;
        throw Errors.authenticationFailed();
    }
  }

  private async bearer(token: string): Promise<AuthContext> {
    if (this.oidc.size === 0) {
      throw Errors.authenticationFailed(
        'No OpenID Connect issuer is configured (AUTH_OIDC_ISSUERS).',
        BEARER_CHALLENGE,
      );
    }
    try {
      return authContext([await this.oidc.verify(token)]);
    } catch (err) {
      if (err instanceof TokenRefused) throw Errors.authenticationFailed(err.message, BEARER_CHALLENGE);
      throw err;
    }
  }

  /** The Authorization header, else (WebSocket and SSE only, for browsers) the access_token parameter. */
  private presented(req: AuthRequest): Presented {
    const authorization = header(req, 'authorization');
    if (authorization !== undefined) return parseAuthorization(authorization);
    const token = accessTokenOf(req);
    return token === undefined ? { kind: 'none' } : parseAuthorization(`Bearer ${token}`);
  }

  /** The generated user's hash: made, stored and printed on the first start only. */
  private async generatedUserHash(): Promise<string> {
    const stored = await this.generated.hashOf(GENERATED_USER);
    if (stored !== undefined) {
      this.logger.log(
        `No authentication configured: user '${GENERATED_USER}' with the generated password (see README, Authentication).`,
      );
      return stored;
    }
    const password = randomBytes(18).toString('base64url');
    const hash = await bcrypt.hash(password, 10);
    if (!(await this.generated.create(GENERATED_USER, hash))) {
      return (await this.generated.hashOf(GENERATED_USER)) ?? hash;
    }
    this.logger.warn(
      `No authentication configured: generated user '${GENERATED_USER}' with password ${password} ` +
        `(shown only this once; e.g. curl -u ${GENERATED_USER}:<password>). ` +
        'Set AUTH_USERS=user:password (or AUTH_USERS_FILE, AUTH_OIDC_ISSUERS) to choose your own.',
    );
    return hash;
  }
}

function header(req: AuthRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function accessTokenOf(req: AuthRequest): string | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const path = url.slice(0, q);
  const accept = header(req, 'accept') ?? '';
  const sse = (req.method ?? 'GET') === 'GET' && accept.toLowerCase().includes('text/event-stream');
  if (path !== '/ws/2' && !sse) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get('access_token') ?? undefined;
}

/** Settings that only the auth module can check are reported like the schema's own errors. */
function configured<T>(read: () => T, message?: string): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof UsersConfigError || err instanceof OidcConfigError)
      throw new ConfigError([err.message]);
    if (message !== undefined) throw new ConfigError([message]);
    throw err;
  }
}
