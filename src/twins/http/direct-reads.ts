import type { IncomingHttpHeaders } from 'node:http';
import { Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { authOf, type AuthContext } from '../../auth/auth-context.js';
import { sendDittoError } from '../../common/ditto-error.filter.js';
import { toDomainError } from '../../common/domain-error.js';
import type { SearchService } from '../search.service.js';
import { parseFields } from '../thing-view.js';
import type { TwinsQueryService } from '../twins-query.service.js';
import { thingAddress } from './request-context.js';

/** The two reads answered here, by the route template metrics and request logs name them by. */
export type DirectRead =
  | { kind: 'thing'; route: '/api/2/things/:thingId'; fields?: string }
  | { kind: 'search'; route: '/api/2/search/things' };

const THING_PREFIX = '/api/2/things/';
const SEARCH_PATH = '/api/2/search/things';
const SEARCH_PARAMS = new Set(['filter', 'option', 'fields', 'namespaces']);
/** Headers that make a read conditional, historical or otherwise not the plain one. */
const ROUTE_HEADERS = [
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'at-historical-revision',
  'at-historical-timestamp',
];
/** What a JSON answer satisfies; anything else (SSE, a Thing Description) is the routes' to decide. */
const JSON_TYPES = new Set(['*/*', 'application/*', 'application/json']);

/**
 * Whether a request is the plain form of a read answered directly: GET of a whole thing (at most
 * `fields`) or GET of a search (Ditto's four parameters), unconditional, not historical, asking
 * for JSON. `path` is the request's path as the client sent it, `query` Express's parse of its
 * query string. Pure, so what takes this path is testable without a server.
 */
export function directReadOf(
  method: string | undefined,
  path: string,
  query: Record<string, unknown>,
  headers: IncomingHttpHeaders,
): DirectRead | undefined {
  if (method !== 'GET') return undefined;
  if (ROUTE_HEADERS.some((h) => headers[h] !== undefined)) return undefined;
  if (!acceptsJson(headers.accept)) return undefined;
  const names = Object.keys(query);
  if (path === SEARCH_PATH) {
    if (!names.every((n) => SEARCH_PARAMS.has(n) && typeof query[n] === 'string')) return undefined;
    return { kind: 'search', route: SEARCH_PATH };
  }
  if (!path.startsWith(THING_PREFIX) || path.indexOf('/', THING_PREFIX.length) !== -1) return undefined;
  if (path.length === THING_PREFIX.length) return undefined;
  if (names.some((n) => n !== 'fields')) return undefined;
  const fields = query.fields;
  if (fields !== undefined && typeof fields !== 'string') return undefined;
  return { kind: 'thing', route: '/api/2/things/:thingId', fields };
}

function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined) return true;
  return accept.split(',').every((part) => JSON_TYPES.has(part.split(';')[0].trim().toLowerCase()));
}

/**
 * The last of the platform's middleware: answers the plain forms of the two reads clients send
 * most (directReadOf) by calling the same services as ThingsController and SearchController,
 * after logging, metrics, CORS, authentication and rate limits have run as for any request.
 * Nest's router, interceptors and parameter pipeline cost several times the read itself on these
 * (bench:api, README "Reads"), so they are skipped here. Anything else goes on to the routes:
 * preconditions, history, sub-resources and the rarer forms keep one implementation. Errors
 * leave through the same writer as the routes' (sendDittoError), so a client cannot tell which
 * path answered (test/e2e/direct-reads.e2e.spec.ts compares the two).
 */
export function directReads(query: TwinsQueryService, search: SearchService): RequestHandler {
  const logger = new Logger('HTTP');
  return (req: Request, res: Response, next: NextFunction): void => {
    const read = directReadOf(req.method, req.path, req.query, req.headers);
    const auth = read && authOf(req);
    if (!read || !auth) return next();
    // Named like the route's answers, errors included, in metrics and request logs.
    (res.locals as { route?: string }).route = read.route;
    answer(read, req, auth).then(
      ({ body, etag }) => {
        // As the routes answer (HttpAnswerInterceptor, then Express's res.json).
        const correlationId = req.header('correlation-id');
        if (correlationId) res.setHeader('correlation-id', correlationId);
        if (etag !== undefined) res.setHeader('ETag', etag);
        const text = JSON.stringify(body);
        res.statusCode = 200;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.setHeader('Content-Length', Buffer.byteLength(text));
        res.end(text);
      },
      (err: unknown) =>
        sendDittoError(
          req,
          res,
          toDomainError(err, (details) => logger.error(`${req.method} ${req.path} failed: ${details}`)),
        ),
    );
  };

  async function answer(
    read: DirectRead,
    req: Request,
    auth: AuthContext,
  ): Promise<{ body: unknown; etag?: string }> {
    if (read.kind === 'search') {
      return { body: await search.search(req.query, auth) };
    }
    const at = thingAddress(req.path);
    const found = await query.get(at.thingId, at.path, parseFields(read.fields), {}, auth);
    return { body: found.value, etag: found.etag };
  }
}
