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
  return (req: Request, res: Response, next: NextFunction): void => {
    if (
      req.method === 'GET' ||
      req.method === 'HEAD' ||
      req.method === 'DELETE' ||
      req.method === 'OPTIONS'
    ) {
      next();
      return;
    }
    req.rawBodyLimit = limit;
    // Too large: answer 413 at once and close the connection instead of reading the rest.
    const refuse = (size: number): void => {
      req.rawBodyTooLarge = size;
      res.setHeader('Connection', 'close');
      next();
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      refuse(declared);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      done = true;
      req.off('data', onData);
      req.pause();
      refuse(size);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (done) return;
      done = true;
      req.rawBody = Buffer.concat(chunks);
      next();
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      next(err);
    });
  };
}
