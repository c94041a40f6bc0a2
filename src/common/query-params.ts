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

/** Where a things request carries Ditto's live channel: `?channel=live` or a `channel` header. */
function asksLiveChannel(req: Request): boolean {
  const header = req.headers.channel;
  if (typeof header === 'string' && header.trim().toLowerCase() === 'live') return true;
  const q = req.originalUrl.indexOf('?');
  if (q < 0) return false;
  return new URLSearchParams(req.originalUrl.slice(q + 1)).get('channel')?.trim().toLowerCase() === 'live';
}

/**
 * Ditto sends a things request with `channel=live` to the device and answers with the device's
 * response. This platform does not route commands to devices, and answering from the twin (or,
 * worse, changing the twin) would tell the caller something the device never said, so such a
 * request is refused as the same command is on /ws/2. Messages (`…/inbox|outbox/…`) are live by
 * nature and not affected.
 */
export function liveChannelRefused() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const path = req.path;
    if (!path.startsWith('/api/2/things') || path.includes('/inbox/') || path.includes('/outbox/'))
      return next();
    if (!asksLiveChannel(req)) return next();
    sendDittoError(
      req,
      res,
      new DomainError(
        501,
        'things.protocol.adapter:channel.unsupported',
        'The live channel is not supported over HTTP: commands are not routed to devices.',
        'Leave out channel=live to use the twin, or send a live message (POST /api/2/things/{thingId}/inbox/messages/{subject}).',
      ),
    );
  };
}
