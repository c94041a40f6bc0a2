import type { INestApplication } from '@nestjs/common';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SseStreams } from './sse-streams.js';

/**
 * The realtime parts served before Nest's routes: SSE on the things paths (only for
 * `Accept: text/event-stream`), the dashboard at `/`, and uPlot from node_modules (no CDN).
 */
export function installRealtimeHttp(app: INestApplication): void {
  app.use(app.get(SseStreams).middleware());
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot/package.json'));
  app.use('/vendor/uplot', express.static(join(uplot, 'dist'), { index: false }));
  const dir = publicDir();
  app.use(onlyShipped(dir, express.static(dir, { index: 'index.html' })));
}

/**
 * The dashboard's files are fixed at build time, so the set of paths is known at boot: every
 * other request (the whole API) skips the static handler, which would otherwise stat a file on
 * disk per request — a tenth of the CPU of a GET thing under load.
 */
function onlyShipped(dir: string, serve: RequestHandler): RequestHandler {
  const files = existsSync(dir) ? readdirSync(dir).map((name) => `/${name}`) : [];
  const paths = new Set(['/', ...files]);
  return (req: Request, res: Response, next: NextFunction) => {
    if (paths.has(req.path)) serve(req, res, next);
    else next();
  };
}

/** The static files live beside this module in src/; compiled code runs from dist/src/. */
function publicDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'public'), join(here, '..', '..', '..', 'src', 'realtime', 'public')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0];
}
