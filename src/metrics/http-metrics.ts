import type { NextFunction, Request, Response } from 'express';
import { routeTemplate } from '../common/route-template.js';
import type { PlatformMetrics } from './platform-metrics.js';

/**
 * Counts and times every HTTP request by method, route template and status, refused ones
 * included (installed before authentication). Timed until the response is done; a stream
 * (SSE) counts when it closes, under the route `sse`.
 */
export function httpMetrics(
  metrics: PlatformMetrics,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const stop = metrics.httpDuration.startTimer();
    res.once('close', () => {
      const labels = {
        method: req.method,
        route: routeTemplate(req, res),
        status_code: String(res.statusCode),
      };
      stop(labels);
      metrics.httpRequests.inc(labels);
    });
    next();
  };
}
