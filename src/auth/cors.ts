import type { IncomingMessage } from 'node:http';
import cors, { type CorsOptions } from 'cors';
import { originAllowed } from './origin.js';

/** What Ditto's UI and clients send cross-origin: credentials, conditions, history, correlation. */
const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'accept',
  'if-match',
  'if-none-match',
  'if-equal',
  'at-historical-revision',
  'at-historical-timestamp',
  'correlation-id',
  'x-ditto-pre-authenticated',
  'last-event-id',
  'requested-acks',
  'response-required',
  'timeout',
];

/**
 * CORS for the HTTP API, SSE included: the platform's own origin and CORS_ORIGINS (a list, or `*`)
 * may call it with credentials, as the WebSocket upgrade check allows them. Installed before
 * authentication, so preflights (which carry no credentials) are answered 204 and a 401 still
 * reaches the page readable. Other origins get no CORS headers, so browsers keep the answer from
 * them.
 */
export function corsMiddleware(allowed: string) {
  return cors((req: IncomingMessage, done: (err: Error | null, options?: CorsOptions) => void) => {
    const origin = req.headers.origin;
    const ok = origin !== undefined && originAllowed(origin, req.headers.host, allowed);
    done(null, {
      // `true` reflects the request's origin: with credentials a literal `*` is not allowed.
      origin: ok,
      credentials: true,
      methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
      allowedHeaders: ALLOWED_HEADERS,
      exposedHeaders: ['ETag', 'Location', 'correlation-id'],
      maxAge: 600,
    });
  });
}
