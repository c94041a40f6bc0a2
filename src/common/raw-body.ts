import type { NextFunction, Request, Response } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request body as received, up to the limit. */
    rawBody?: Buffer;
    /** Set instead of rawBody when the body exceeded the limit (its size so far). */
    rawBodyTooLarge?: number;
    rawBodyLimit?: number;
  }
}

/**
 * Collects the body without interpreting it. Parsing happens in the body decorators inside
 * Nest's pipeline, so a malformed or oversized body becomes a Ditto error through the one
 * error filter instead of an HTML page from Express.
 */
export function rawBodyCollector(limit: number) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    req.rawBodyLimit = limit;
    if (
      req.method === 'GET' ||
      req.method === 'HEAD' ||
      req.method === 'DELETE' ||
      req.method === 'OPTIONS'
    ) {
      next();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > limit) req.rawBodyTooLarge = size;
      else req.rawBody = Buffer.concat(chunks);
      next();
    });
    req.on('error', next);
  };
}
