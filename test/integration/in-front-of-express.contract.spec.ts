import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { inFrontOfExpress } from '../../src/common/in-front-of-express.js';

/**
 * The platform's middleware runs in front of Express (src/common/in-front-of-express.ts), relying
 * on Nest making its HTTP server with Express as the request listener and on Express's request and
 * response API coming from the application's prototypes. A Nest application as the platform
 * makes it, with one route: what the middleware answers, what it passes on and what it fails must
 * arrive as they did when it ran inside Express. Fails when an upgrade of Nest or Express changes
 * either.
 */
@Controller()
class RoutedController {
  @Get('routed')
  routed(@Req() req: Request): { routed: true; locals: unknown } {
    return { routed: true, locals: (req.res?.locals as { mark?: string }).mark };
  }
}

@Module({ controllers: [RoutedController] })
class FrontTestModule {}

let app: NestExpressApplication;

beforeAll(async () => {
  app = await NestFactory.create<NestExpressApplication>(FrontTestModule, {
    logger: false,
    bodyParser: false,
  });
  inFrontOfExpress(app, (req: Request, res: Response, next: NextFunction) => {
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

  it('passes the request on to Nest’s routes with its headers and res.locals kept', async () => {
    const res = await request(app.getHttpServer()).get('/routed').expect(200);
    expect(res.body).toEqual({ routed: true, locals: 'front' });
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
