import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { DomainError, type DittoErrorBody } from '../common/domain-error.js';
import { attachAuth } from './auth-context.js';
import type { AuthService } from './auth.service.js';

/**
 * What anyone may reach: the health check (load balancers, compose), the API documentation, and
 * Prometheus' `/metrics` (guarded by METRICS_TOKEN itself when that is set; see metrics/).
 * Matched on the decoded path, and never with a `.` or `..` segment: the static file server
 * resolves those, so `/health/../index.html` would otherwise serve the dashboard unauthenticated.
 */
export function isOpenPath(rawPath: string): boolean {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return false;
  }
  if (path.includes('\\') || path.split('/').some((s) => s === '.' || s === '..')) return false;
  return (
    path === '/health' ||
    path.startsWith('/health/') ||
    path === '/metrics' ||
    path === '/api/docs' ||
    path.startsWith('/api/docs/') ||
    path === '/api/docs-json' ||
    path === '/api/docs-yaml'
  );
}

/**
 * Installed first in front of everything Express serves (SSE, the dashboard, Nest's routes): a
 * request leaves it authenticated, with its AuthContext attached, or answered with Ditto's error
 * JSON. A Nest guard would not see SSE and static files, which are answered before Nest's routes.
 */
export function authMiddleware(auth: AuthService): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    if (isOpenPath(req.path)) {
      next();
      return;
    }
    auth.authenticate(req).then(
      (ctx) => {
        attachAuth(req, ctx);
        next();
      },
      (err: unknown) => {
        if (!(err instanceof DomainError)) {
          next(err);
          return;
        }
        const correlationId = req.header('correlation-id');
        if (correlationId) res.setHeader('correlation-id', correlationId);
        for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
        res
          .status(err.status)
          .type('application/json')
          .send(JSON.stringify(err.toJSON() satisfies DittoErrorBody));
      },
    );
  };
}

/**
 * Browser security headers for the dashboard and its static files; the API (JSON, SSE, and the
 * Swagger UI with its inline scripts) is left alone. The dashboard loads only its own scripts
 * and styles; uPlot sets element styles from script, which CSP allows.
 */
export function dashboardSecurityHeaders(): (req: Request, res: Response, next: NextFunction) => void {
  const headers = helmet({
    contentSecurityPolicy: {
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        // 'self' covers the same-origin WebSocket (ws:, wss:) in current browsers.
        'connect-src': ["'self'"],
        'upgrade-insecure-requests': null,
      },
    },
    // Plain http on a LAN is a supported setup; HSTS would lock browsers out of it.
    strictTransportSecurity: false,
  });
  return (req, res, next) => {
    if (
      req.path.startsWith('/api/') ||
      req.path === '/api' ||
      req.path === '/health' ||
      req.path.startsWith('/health/')
    ) {
      next();
      return;
    }
    headers(req, res, next);
  };
}
