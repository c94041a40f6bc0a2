import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * The platform's global middleware as one handler (run in front of Express, see
 * in-front-of-express.ts): Express walks its router stack per layer (match, params, prefix
 * trimming) for every request, which cost more than most of these handlers themselves. Semantics
 * kept: a handler ends the request or calls next; next(err) skips
 * the rest to Express's error handling; a thrown error or a rejected promise counts as next(err),
 * as Express 5 does.
 */
export function middlewareChain(handlers: readonly RequestHandler[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    let i = 0;
    const step = (err?: unknown): void => {
      // Anything truthy (an error, or Express's 'route'/'router') is Express's to handle.
      if (err) {
        next(err);
        return;
      }
      const handler = handlers[i++];
      if (!handler) {
        next();
        return;
      }
      try {
        const out: unknown = handler(req, res, step);
        if (isThenable(out)) out.then(undefined, (e: unknown) => next(e ?? new Error('middleware rejected')));
      } catch (e) {
        next(e);
      }
    };
    step();
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
