import type { Request, Response } from 'express';

/**
 * The route a request took, as a template (`/api/2/things/:thingId`), never the raw URL with its
 * ids: a label for metrics and request logs. Express keeps the matched route on the request;
 * middleware that answers a route itself (twins/http/direct-reads.ts) names it in `res.locals`;
 * what no route answered is named by kind.
 */
export function routeTemplate(req: Request, res: Response): string {
  const answered = (res.locals as { route?: unknown } | undefined)?.route;
  if (typeof answered === 'string') return answered;
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return `${req.baseUrl ?? ''}${route.path}`;
  // Answered by Express middleware before Nest's routes: SSE, the dashboard, the API docs.
  if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) return 'sse';
  const path = req.originalUrl.split('?')[0];
  if (path === '/api/docs' || path.startsWith('/api/docs/') || path.startsWith('/api/docs-'))
    return '/api/docs';
  if (res.statusCode === 401 || res.statusCode === 429) return 'unauthenticated';
  if (req.method === 'OPTIONS') return 'preflight';
  if (res.statusCode < 400 && !path.startsWith('/api/')) return 'static';
  return 'unmatched';
}
