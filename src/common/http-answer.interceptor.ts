import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import { map, type Observable } from 'rxjs';
import { HttpAnswer } from './http-answer.js';

/** Applies HttpAnswer results, echoes Ditto's correlation-id, and always sends JSON. */
@Injectable()
export class HttpAnswerInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const res = http.getResponse<Response>();
    const req = http.getRequest<Request>();
    const correlationId = req.header('correlation-id');
    if (correlationId) res.setHeader('correlation-id', correlationId);
    return next.handle().pipe(
      map((result: unknown) => {
        const answer = result instanceof HttpAnswer ? result : HttpAnswer.ok(result);
        res.status(answer.status);
        for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
        if (answer.body === undefined || answer.status === 204 || answer.status === 304) return undefined;
        // Express would send scalars as text/html; Ditto answers every value as JSON.
        res.type('application/json');
        return typeof answer.body === 'object' && answer.body !== null
          ? answer.body
          : JSON.stringify(answer.body);
      }),
    );
  }
}
