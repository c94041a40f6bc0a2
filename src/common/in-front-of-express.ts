import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import type { Express, Request, RequestHandler, Response } from 'express';

/**
 * Nest's Express adapter with one difference: its HTTP server makes every request and response
 * with Express's API from the start (node's `IncomingMessage` and `ServerResponse` options, given
 * subclasses whose prototypes inherit the application's `app.request` and `app.response`, which
 * then become those prototypes). Express otherwise swaps the prototype of each request and
 * response as it takes them, and V8 turns an object whose prototype changed into a slow one:
 * every property node's HTTP code then reads on it costs a lookup, about half the CPU of a GET
 * answered in front of Express (bench:api). Express still sets the prototypes, to the ones they
 * have: nothing changes. The options Nest handles itself (HTTPS, forced closing) are left to
 * Nest's own server.
 */
export class PlatformExpressAdapter extends ExpressAdapter {
  override initHttpServer(options: NestApplicationOptions): void {
    if (options.httpsOptions || options.forceCloseConnections || options.return503OnClosing) {
      super.initHttpServer(options);
      return;
    }
    const express: Express = this.getInstance();
    // Classes, not constructor functions given the prototype: V8 keeps a subclass's instances
    // fast, where a function's came out slow (responses have many fields).
    const ExpressRequest = class extends IncomingMessage {};
    Object.setPrototypeOf(ExpressRequest.prototype, express.request);
    express.request = ExpressRequest.prototype as Request;
    const ExpressResponse = class extends ServerResponse {};
    Object.setPrototypeOf(ExpressResponse.prototype, express.response);
    express.response = ExpressResponse.prototype as unknown as Response;
    this.setHttpServer(
      createServer({ IncomingMessage: ExpressRequest, ServerResponse: ExpressResponse }, express),
    );
  }
}

/**
 * Runs `handler` (the platform's middleware chain) for every HTTP request before Express's router
 * and hands the request to Express only when the handler passes it on (next()), with next(err)
 * arriving in Express as it would from a middleware. Express's router costs per request what
 * several of the handlers cost together (bench:api measured +8 % GETs/s without it), and the
 * plain reads answered by the chain (direct reads) need nothing of it.
 *
 * The request and response get Express's API as app.handle gives it: the application's own
 * prototypes (`app.request`, `app.response`, Express's documented extension points), `req.res`
 * and `res.req`, `res.locals` and `req.originalUrl`; Express sets them again (keeping `locals`
 * and `originalUrl`) when the request goes on to it. Must be called before anything else is
 * registered with Express, whose first layer replays a handler's error.
 */
export function inFrontOfExpress(app: NestExpressApplication, handler: RequestHandler): void {
  const express: Express = app.getHttpAdapter().getInstance();
  const server: Server = app.getHttpServer();
  const before = server.listenerCount('request');
  server.removeListener('request', express);
  // The server is Nest's, made with Express as its request listener: if that changes, this must.
  if (server.listenerCount('request') !== before - 1) {
    throw new Error('Express is not the HTTP server request listener: cannot run middleware in front of it');
  }
  const failed = new WeakMap<IncomingMessage, unknown>();
  express.use((req: Request, _res: Response, next: (err?: unknown) => void) => {
    const err = failed.get(req);
    if (err === undefined) return next();
    failed.delete(req);
    next(err);
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // A server made by PlatformExpressAdapter made them with these prototypes already.
    const request = (
      Object.getPrototypeOf(req) === express.request ? req : Object.setPrototypeOf(req, express.request)
    ) as Request;
    const response = (
      Object.getPrototypeOf(res) === express.response ? res : Object.setPrototypeOf(res, express.response)
    ) as Response;
    request.res = response;
    response.req = request;
    response.locals = Object.create(null) as Response['locals'];
    request.originalUrl = req.url ?? '/';
    handler(request, response, (err?: unknown) => {
      // Express's own words for "skip the rest" ('route', 'router') mean the same as next().
      if (err && err !== 'route' && err !== 'router') failed.set(req, err);
      express(req, res);
    });
  });
}
