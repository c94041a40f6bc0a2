import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { routeTemplate } from '../common/route-template.js';

/** Ditto's header; a client's value is kept (and echoed), otherwise one is made up. */
export const CORRELATION_HEADER = 'correlation-id';
const MAX_CORRELATION_ID = 256;

/** The correlation id of a request, as the request log line and the response carry it. */
export function correlationIdOf(res: Response): string | undefined {
  return (res.locals as { correlationId?: string }).correlationId;
}

/**
 * Installed first: gives every request its correlation id (response header `correlation-id`)
 * and writes one line when the response is done: method, route template, path (no query: SSE
 * and WebSocket clients may carry `access_token` there), status, duration. No headers are logged.
 */
export function requestLog(logger: Logger): (req: Request, res: Response, next: NextFunction) => void {
  const log = logger.child({ context: 'http' });
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const given = req.header(CORRELATION_HEADER);
    const correlationId = given && given.length <= MAX_CORRELATION_ID ? given : randomUUID();
    (res.locals as { correlationId?: string }).correlationId = correlationId;
    res.setHeader(CORRELATION_HEADER, correlationId);
    res.once('close', () => {
      const status = res.statusCode;
      // Under load at LOG_LEVEL warn/error, building lines nobody writes is garbage per request.
      if (status < 500 && !log.isLevelEnabled('info')) return;
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const route = routeTemplate(req, res);
      const line = {
        method: req.method,
        route,
        path: req.originalUrl.split('?')[0],
        status,
        durationMs: Math.round(durationMs * 100) / 100,
        correlationId,
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      const message = `${req.method} ${route} ${status} ${line.durationMs}ms`;
      if (status >= 500) log.error(line, message);
      else log.info(line, message);
    });
    next();
  };
}
