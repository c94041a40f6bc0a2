import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { DomainError } from '../common/domain-error.js';
import { authOf, type AuthContext } from './auth-context.js';

/**
 * The AuthContext the authentication middleware attached to the request. A route that asks for it
 * and finds none fails closed with 401: that only happens if the route was wrongly left open.
 */
export const RequestAuth = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext => {
  const auth = authOf(ctx.switchToHttp().getRequest<IncomingMessage>());
  if (!auth) {
    throw new DomainError(
      401,
      'gateway:authentication.failed',
      'Unauthorized: no authenticated subject for this request.',
      'Authenticate with HTTP basic, a bearer token or a pre-authenticated subject.',
      { 'WWW-Authenticate': 'Basic realm="ditto"' },
    );
  }
  return auth;
});
