import type { INestApplication } from '@nestjs/common';
import express from 'express';
import { existsSync } from 'node:fs';
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
  app.use(express.static(publicDir(), { index: 'index.html' }));
}

/** The static files live beside this module in src/; compiled code runs from dist/src/. */
function publicDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'public'), join(here, '..', '..', '..', 'src', 'realtime', 'public')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0];
}
