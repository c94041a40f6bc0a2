import { describe, expect, it } from '@jest/globals';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { middlewareChain } from './middleware-chain.js';

const req = {} as Request;
const res = {} as Response;

function run(handlers: RequestHandler[]): Promise<unknown[]> {
  return new Promise((done) => {
    const next = ((...args: unknown[]) => done(args)) as NextFunction;
    middlewareChain(handlers)(req, res, next);
  });
}

describe('the global middleware chain', () => {
  it('runs every handler in order, then hands on to the routes', async () => {
    const seen: number[] = [];
    const h =
      (k: number): RequestHandler =>
      (_q, _s, next) => {
        seen.push(k);
        next();
      };
    expect(await run([h(1), h(2), h(3)])).toEqual([]);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('stops at a handler that answers', () => {
    const seen: string[] = [];
    let handedOn = false;
    middlewareChain([(_q, _s, next) => next(), () => seen.push('answered'), () => seen.push('never')])(
      req,
      res,
      () => (handedOn = true),
    );
    expect(seen).toEqual(['answered']);
    expect(handedOn).toBe(false);
  });

  it('passes an error on, skipping the rest: given to next, thrown, or rejected', async () => {
    const boom = new Error('boom');
    const never: RequestHandler = () => {
      throw new Error('reached');
    };
    expect(await run([(_q, _s, next) => next(boom), never])).toEqual([boom]);
    expect(
      await run([
        () => {
          throw boom;
        },
        never,
      ]),
    ).toEqual([boom]);
    expect(await run([() => Promise.reject(boom), never] as RequestHandler[])).toEqual([boom]);
  });

  it('waits for an asynchronous handler to call next', async () => {
    const seen: string[] = [];
    const out = await run([
      (_q, _s, next) =>
        void Promise.resolve().then(() => {
          seen.push('async');
          next();
        }),
      (_q, _s, next) => {
        seen.push('after');
        next();
      },
    ]);
    expect(out).toEqual([]);
    expect(seen).toEqual(['async', 'after']);
  });
});
