import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { AuthContext } from '../../auth/auth-context.js';
import { authOf } from '../../auth/auth-context.js';
import { DomainError } from '../../common/domain-error.js';
import { Errors } from '../../common/errors.js';

const PREFIX = '/api/2/policies/';

export interface PolicyAddress {
  policyId: string;
  /** Keys inside the policy document; a resource key such as `thing:/features/x` is one key. */
  path: string[];
  rawPath: string;
}

function decode(segment: string, raw: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw Errors.pointerInvalid(raw);
  }
}

/**
 * The policy id and the path inside the policy, from the raw URL. Everything after
 * `/entries/{label}/resources/` is the resource key, raw slashes included (`thing:/features/x`,
 * as Ditto takes it) or URL-encoded (`thing:%2Ffeatures%2Fx`).
 */
export function policyAddress(rawPath: string): PolicyAddress {
  const rest = rawPath.startsWith(PREFIX) ? rawPath.slice(PREFIX.length) : rawPath;
  const [idPart, ...segments] = rest.split('/');
  const policyId = decode(idPart, rawPath);
  if (segments.length >= 4 && segments[0] === 'entries' && segments[2] === 'resources') {
    const key = decode(segments.slice(3).join('/'), rawPath);
    return { policyId, path: ['entries', decode(segments[1], rawPath), 'resources', key], rawPath };
  }
  const path = segments.map((s) => decode(s, rawPath));
  if (path.some((s) => s.length === 0)) throw Errors.pointerInvalid('/' + segments.join('/'));
  return { policyId, path, rawPath };
}

export const PolicyAt = createParamDecorator((_: unknown, ctx: ExecutionContext): PolicyAddress => {
  const req = ctx.switchToHttp().getRequest<Request>();
  return policyAddress(req.path);
});

/**
 * The request's AuthContext. The authentication middleware rejects unauthenticated requests
 * before they get here; this only throws when that middleware is not installed.
 */
export function requireAuth(req: Request): AuthContext {
  const auth = authOf(req);
  if (!auth)
    throw new DomainError(
      401,
      'gateway:authentication.failed',
      'Unauthorized. The request could not be authenticated.',
      'Check the credentials of the request.',
    );
  return auth;
}

export const Auth = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext =>
  requireAuth(ctx.switchToHttp().getRequest<Request>()),
);
