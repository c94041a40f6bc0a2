import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { inFrontOfExpress, PlatformExpressAdapter } from '../../src/common/in-front-of-express.js';

/**
 * The platform's middleware runs in front of Express (src/common/in-front-of-express.ts), relying
 * on Nest making its HTTP server with Express as the request listener, on Express's request and
 * response API coming from the application's prototypes, and on node's HTTP server making requests
 * and responses with the classes it is given (PlatformExpressAdapter). A Nest application as the
 * platform makes it, with one route: what the middleware answers, what it passes on and what it
 * fails must arrive as they did when it ran inside Express. Fails when an upgrade of Nest, Express
 * or node changes any of it.
 */
@Controller()
class RoutedController {
  @Get('routed')
  routed(@Req() req: Request): { routed: true; locals: unknown; samePrototypes: boolean } {
    return {
      routed: true,
      locals: (req.res?.locals as { mark?: string }).mark,
      // Express set the prototypes again as it took the request: to the ones they were made with.
      samePrototypes:
        Object.getPrototypeOf(req) === madeWith.get(req) &&
        Object.getPrototypeOf(req.res) === madeWith.get(req.res as object),
    };
  }
}

@Module({ controllers: [RoutedController] })
class FrontTestModule {}

let app: NestExpressApplication;
/** The prototype each request and response had when the middleware in front first saw it. */
const madeWith = new WeakMap<object, unknown>();

beforeAll(async () => {
  app = await NestFactory.create<NestExpressApplication>(FrontTestModule, new PlatformExpressAdapter(), {
    logger: false,
    bodyParser: false,
  });
  inFrontOfExpress(app, (req: Request, res: Response, next: NextFunction) => {
    madeWith.set(req, Object.getPrototypeOf(req));
    madeWith.set(res, Object.getPrototypeOf(res));
    res.locals.mark = 'front';
    res.setHeader('x-front', req.path);
    if (req.path === '/answered') {
      res.status(200).json({ query: req.query, originalUrl: req.originalUrl, header: req.header('x-test') });
      return;
    }
    if (req.path === '/failed') return next(new Error('failed in front'));
    next();
  });
  // Express's error handling, as for a middleware's next(err) inside Express.
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(599).type('text/plain').send(err.message);
  });
  await app.init();
});
afterAll(async () => {
  await app?.close();
});

describe('middleware in front of Express', () => {
  it('answers with Express’s request and response API: path, query, headers, json', async () => {
    const res = await request(app.getHttpServer())
      .get('/answered?a=1&b=two')
      .set('x-test', 'yes')
      .expect(200);
    expect(res.body).toEqual({
      query: { a: '1', b: 'two' },
      originalUrl: '/answered?a=1&b=two',
      header: 'yes',
    });
    expect(res.headers['x-front']).toBe('/answered');
  });

  it('makes requests and responses with Express’s prototypes, its API there before anything runs', () => {
    const express = app.getHttpAdapter().getInstance() as { request: object; response: object };
    const server = app.getHttpServer();
    const made = new Promise<[unknown, unknown]>((resolve) =>
      server.prependOnceListener('request', (req: object, res: object) =>
        resolve([Object.getPrototypeOf(req), Object.getPrototypeOf(res)]),
      ),
    );
    return request(server)
      .get('/answered')
      .expect(200)
      .then(async () => {
        const [requestPrototype, responsePrototype] = await made;
        expect(requestPrototype).toBe(express.request);
        expect(responsePrototype).toBe(express.response);
      });
  });

  it('passes the request on to Nest’s routes with its headers and res.locals kept', async () => {
    const res = await request(app.getHttpServer()).get('/routed').expect(200);
    expect(res.body).toEqual({ routed: true, locals: 'front', samePrototypes: true });
    expect(res.headers['x-front']).toBe('/routed');
  });

  it('hands an error to Express’s error handling', async () => {
    const res = await request(app.getHttpServer()).get('/failed').expect(599);
    expect(res.text).toBe('failed in front');
  });

  it('leaves an unknown path to Express and Nest: 404', async () => {
    await request(app.getHttpServer()).get('/nowhere').expect(404);
  });
});
