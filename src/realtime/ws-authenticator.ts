import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { AuthContext } from '../auth/auth-context.js';
import { AuthService } from '../auth/auth.service.js';
import { DomainError } from '../common/domain-error.js';

/**
 * Who a WebSocket session acts for: the AuthContext of its upgrade request (`subjects`,
 * `defaultSubject`), and `subject`, the default subject, for logs.
 */
export interface WsPrincipal extends AuthContext {
  readonly subject: string;
}

export function wsPrincipal(auth: AuthContext): WsPrincipal {
  return { subjects: auth.subjects, defaultSubject: auth.defaultSubject, subject: auth.defaultSubject };
}

/**
 * The authentication seam of `/ws/2`: called on every upgrade request before the socket is
 * accepted. Return a principal to accept, undefined to refuse with 401 (the official Ditto client
 * needs a plain HTTP 401 for bad credentials); a thrown DomainError refuses with its status.
 */
export abstract class WsAuthenticator {
  abstract authenticate(req: IncomingMessage): Promise<WsPrincipal | undefined>;
}

/**
 * The upgrade is authenticated like any HTTP request (Basic, Bearer, a trusted proxy's subject),
 * plus `?access_token=` for browsers, whose WebSocket API cannot set headers.
 */
@Injectable()
export class AuthServiceAuthenticator extends WsAuthenticator {
  constructor(@Inject(AuthService) private readonly auth: AuthService) {
    super();
  }

  async authenticate(req: IncomingMessage): Promise<WsPrincipal | undefined> {
    try {
      return wsPrincipal(await this.auth.authenticate(req));
    } catch (err) {
      if (err instanceof DomainError && err.status === 401) return undefined;
      throw err;
    }
  }
}
