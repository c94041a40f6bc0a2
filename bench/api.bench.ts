import { fileURLToPath } from 'node:url';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../src/app.module.js';
import { loadConfig } from '../src/config/config.schema.js';
import { ConfigService } from '../src/config/config.service.js';
import type { TwinCommand } from '../src/twins/twin.types.js';
import { TwinsService } from '../src/twins/twins.service.js';
import { benchAuthHeaders } from './auth.js';
import { benchDatabase, load, machine, startServer, stopServer, type LoadResult } from './support.js';

/**
 * `npm run bench:api`: seeds THINGS things through the twin service, then load-tests GET of one
 * thing and an attribute search on the platform and on a bare node:http + pg server answering
 * the same rows, in the same run. Prints figures; asserts nothing.
 */
const THINGS = Number(process.env.BENCH_THINGS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const BUILDINGS = 1000;
const target = fileURLToPath(new URL('./api-target.js', import.meta.url));

function thingCommand(i: number): TwinCommand {
  return {
    type: 'modify',
    thingId: `bench:meter-${i}`,
    path: [],
    origin: 'system',
    value: {
      attributes: { building: `B${i % BUILDINGS}`, floor: i % 20, installed: '2024-01-01' },
      features: { energy: { properties: { power: (i * 7) % 5000, total: i * 13.5 } } },
    },
  };
}

async function seed(url: string): Promise<number> {
  const config = new ConfigService(loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'error' }));
  const ctx = await NestFactory.createApplicationContext(AppModule.withConfig(config), { logger: ['error'] });
  const twins = ctx.get(TwinsService);
  const started = performance.now();
  const batch = 1000;
  for (let from = 0; from < THINGS; from += batch) {
    const cmds = Array.from({ length: Math.min(batch, THINGS - from) }, (_, k) => thingCommand(from + k));
    await twins.applyMany(cmds);
  }
  const seconds = (performance.now() - started) / 1000;
  await ctx.close();
  return THINGS / seconds;
}

const ids = Array.from({ length: 1000 }, (_, k) => `/api/2/things/bench:meter-${(k * 97) % THINGS}`);
const searches = Array.from(
  { length: 100 },
  (_, k) =>
    `/api/2/search/things?filter=${encodeURIComponent(`eq(attributes/building,"B${(k * 7) % BUILDINGS}")`)}`,
);

async function measure(mode: 'app' | 'raw', url: string): Promise<{ get: LoadResult; search: LoadResult }> {
  const { port, child } = await startServer(target, [mode], { DATABASE_URL: url });
  // The platform wants credentials (checked on every request); the raw baseline checks none.
  const headers = mode === 'app' ? benchAuthHeaders() : {};
  try {
    await load(port, ids, 2, CONNECTIONS, headers); // warm-up: JIT, pool, caches
    const get = await load(port, ids, SECONDS, CONNECTIONS, headers);
    const search = await load(port, searches, SECONDS, CONNECTIONS, headers);
    return { get, search };
  } finally {
    await stopServer(child);
  }
}

function row(name: string, ours: LoadResult, raw: LoadResult): string {
  const f = (n: number) => n.toFixed(0).padStart(8);
  return `${name.padEnd(28)}${f(ours.requestsPerSec)} req/s  p99 ${f(ours.p99)} ms | raw ${f(raw.requestsPerSec)} req/s  p99 ${f(raw.p99)} ms | ratio ${(ours.requestsPerSec / raw.requestsPerSec).toFixed(2)}${ours.non2xx + ours.errors > 0 ? `  (${ours.non2xx} non-2xx, ${ours.errors} errors!)` : ''}`;
}

const db = await benchDatabase();
try {
  console.log(`machine: ${machine()}`);
  console.log(`seeding ${THINGS} things through TwinsService.applyMany (batches of 1000)…`);
  const rate = await seed(db.url);
  console.log(`seeded at ${rate.toFixed(0)} things/s (one transaction and one journal append per batch)`);
  const app = await measure('app', db.url);
  const raw = await measure('raw', db.url);
  console.log(`\nautocannon, ${CONNECTIONS} connections, ${SECONDS} s each, ${THINGS} things:`);
  console.log(row('GET /api/2/things/{id}', app.get, raw.get));
  console.log(row('search eq(attributes/…)', app.search, raw.search));
} finally {
  await db.close();
}
