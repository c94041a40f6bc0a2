import type { NextFunction, Request, Response } from 'express';
import { sendDittoError } from './ditto-error.filter.js';
import { DomainError } from './domain-error.js';

/**
 * A query parameter given twice (`?filter=a&filter=b`) is ambiguous: a route reading one of them
 * would answer for the other (an unfiltered search). Ditto refuses it; so does this, for every
 * API path, before any route reads its parameters.
 */
export function repeatedQueryParameters() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const q = req.originalUrl.indexOf('?');
    if (q < 0) return next();
    const seen = new Set<string>();
    for (const [name] of new URLSearchParams(req.originalUrl.slice(q + 1))) {
      if (!seen.has(name)) {
        seen.add(name);
        continue;
      }
      sendDittoError(
        req,
        res,
        new DomainError(
          400,
          'gateway:request.invalid',
          `The query parameter '${name.slice(0, 100)}' is given more than once.`,
          'Give each query parameter at most once (join several values with commas where the API allows).',
        ),
      );
      return;
    }
    next();
  };
}
