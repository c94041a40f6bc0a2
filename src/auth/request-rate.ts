import { Inject, Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { sendDittoError } from '../common/ditto-error.filter.js';
import { DomainError } from '../common/domain-error.js';
import { ConfigService } from '../config/config.service.js';
import { authOf } from './auth-context.js';

/**
 * Fairness between clients: each authenticated subject may send RATE_LIMIT_PER_SECOND requests
 * (REST, SSE opens and WebSocket commands together) per second of this instance, with bursts up
 * to that many; beyond it Ditto's 429 with Retry-After. 0 switches it off.
 */
@Injectable()
export class RequestRate {
  private readonly limiter?: RateLimiterMemory;

  constructor(@Inject(ConfigService) config: ConfigService) {
    const points = config.get('RATE_LIMIT_PER_SECOND');
    if (points > 0) this.limiter = new RateLimiterMemory({ points, duration: 1 });
  }

  /** Undefined when `subject` may go on, else the 429 to answer. */
  async take(subject: string): Promise<DomainError | undefined> {
    if (!this.limiter) return undefined;
    try {
      await this.limiter.consume(subject);
      return undefined;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      return tooManyRequests(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
    }
  }

  middleware() {
    // Switched off: not a promise per request for nothing.
    if (!this.limiter) return (_req: Request, _res: Response, next: NextFunction): void => next();
    return (req: Request, res: Response, next: NextFunction): void => {
      const auth = authOf(req);
      // The open paths (health, docs) have no subject and are not limited.
      if (!auth) return next();
      this.take(auth.defaultSubject).then(
        (refused) => (refused ? sendDittoError(req, res, refused) : next()),
        next,
      );
    };
  }
}

function tooManyRequests(retryAfterSeconds: number): DomainError {
  return new DomainError(
    429,
    'too.many.requests',
    'Too many requests from this subject.',
    `Slow down: wait ${retryAfterSeconds} s and send fewer requests per second.`,
    { 'Retry-After': String(retryAfterSeconds) },
  );
}
