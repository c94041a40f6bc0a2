import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Errors } from '../../common/errors.js';
import { correlationIdOf } from '../../logging/request-log.js';
import { parsePointer } from '../model/json-pointer.js';
import type { Preconditions } from '../twin.types.js';

export interface ThingAddress {
  thingId: string;
  /** Segments below the thing, [] for the thing itself. */
  path: string[];
}

const PREFIX = '/api/2/things/';

function decode(segment: string, raw: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw Errors.pointerInvalid(raw);
  }
}

/**
 * The thing id and sub-path, read from the raw URL: Express would collapse or decode parts
 * we must see as the client sent them (empty segments are an error, `%2F` is not a separator).
 */
export function thingAddress(rawPath: string): ThingAddress {
  const rest = rawPath.startsWith(PREFIX) ? rawPath.slice(PREFIX.length) : rawPath;
  const [idPart, ...segments] = rest.split('/');
  const thingId = decode(idPart, rawPath);
  if (segments.length === 0) return { thingId, path: [] };
  const decoded = segments.map((s) => decode(s, rawPath));
  if (decoded.some((s) => s.length === 0 || s.includes('/')))
    throw Errors.pointerInvalid('/' + segments.join('/'));
  return { thingId, path: parsePointer(decoded.join('/')) };
}

export const ThingAt = createParamDecorator((_: unknown, ctx: ExecutionContext): ThingAddress => {
  const req = ctx.switchToHttp().getRequest<Request>();
  return thingAddress(req.path);
});

export interface WriteContext {
  correlationId?: string;
  preconditions: Preconditions;
}

/** Ditto's request headers that shape a write: correlation-id and RFC 7232 preconditions. */
export const DittoHeaders = createParamDecorator((_: unknown, ctx: ExecutionContext): WriteContext => {
  const http = ctx.switchToHttp();
  const req = http.getRequest<Request>();
  return {
    // The id the request log gave the request (the client's, or one made up and returned in the
    // response header): the journal entry and the change's events carry the same one.
    correlationId:
      correlationIdOf(http.getResponse<Response>()) ?? (req.header('correlation-id') || undefined),
    preconditions: {
      ifMatch: req.header('if-match') || undefined,
      ifNoneMatch: req.header('if-none-match') || undefined,
    },
  };
});
