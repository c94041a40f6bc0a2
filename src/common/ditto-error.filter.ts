import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError, toDomainError, type DittoErrorBody } from './domain-error.js';
import { Errors } from './errors.js';

/**
 * The one place HTTP errors are shaped: every failure leaves as Ditto's error JSON
 * `{status, error, message, description}`. Client mistakes keep their 4xx; anything
 * unexpected is logged with its stack and answered 500 without internals.
 */
@Catch()
export class DittoErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    sendDittoError(req, res, this.toDomainError(exception, req));
  }

  private toDomainError(exception: unknown, req: Request): DomainError {
    if (exception instanceof DomainError) return exception;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) return Errors.notFoundRoute(req.path);
      if (status === 405) return Errors.methodNotAllowed(req.method, req.path);
      return new DomainError(
        status,
        `gateway:${status < 500 ? 'request.invalid' : 'internalerror'}`,
        exception.message,
        'Check the request line, headers and body against the API documentation at /api/docs.',
      );
    }
    return toDomainError(exception, (details) =>
      // The path without the query: SSE clients may carry `access_token` there.
      this.logger.error(`${req.method} ${req.path} failed: ${details}`),
    );
  }
}

/** Writes Ditto's error JSON (or a bare 304) for routes and for middleware that answers itself (SSE). */
export function sendDittoError(req: Request, res: Response, error: DomainError): void {
  if (res.headersSent) return;
  const correlationId = req.header('correlation-id');
  if (correlationId) res.setHeader('correlation-id', correlationId);
  for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
  if (error.status === 304) {
    res.status(304).end();
    return;
  }
  res
    .status(error.status)
    .type('application/json')
    .send(JSON.stringify(error.toJSON() satisfies DittoErrorBody));
}
