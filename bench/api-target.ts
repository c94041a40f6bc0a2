import { createServer } from 'node:http';
import pg from 'pg';
import { createApp } from '../src/bootstrap.js';
import { loadConfig } from '../src/config/config.schema.js';
import { ConfigService } from '../src/config/config.service.js';
import { benchAuthEnv } from './auth.js';

/**
 * A benchmark target, run as a child process:
 * - `app` is the platform as `npm start` runs it: authentication on (the bench user), policies
 *   enforced on every read and search;
 * - `anon` is the same platform with AUTH_ANONYMOUS=true: no credentials checked, no policy
 *   enforced (the demo mode), the comparison point for what enforcement costs;
 * - `raw` is the baseline — bare node:http and pg answering the same rows with one query each,
 *   prepared once per connection as an expert would (the platform prepares its read by id too).
 */
const mode = process.argv[2];
const url = process.env.DATABASE_URL ?? '';
const POOL = 10;

async function startApp(anonymous: boolean): Promise<number> {
  const config = new ConfigService(
    loadConfig({
      ...(anonymous ? { AUTH_ANONYMOUS: 'true' } : benchAuthEnv()),
      DATABASE_URL: url,
      LOG_LEVEL: 'error',
      DATABASE_POOL_SIZE: String(POOL),
      // One subject sends all the load: the per-subject fairness limit would answer most of it 429.
      RATE_LIMIT_PER_SECOND: '0',
      PORT: '0',
    }),
  );
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
  const server = app.getHttpServer() as import('node:http').Server;
  return (server.address() as { port: number }).port;
}

async function startRaw(): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: POOL });
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const reply = (rows: { doc: unknown }[], many: boolean): void => {
      res.writeHead(rows.length || many ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(many ? { items: rows.map((r) => r.doc) } : (rows[0]?.doc ?? {})));
    };
    const fail = (err: Error): void => {
      res.writeHead(500).end(err.message);
    };
    if (u.pathname.startsWith('/api/2/things/')) {
      const id = decodeURIComponent(u.pathname.slice('/api/2/things/'.length));
      pool
        .query<{ doc: unknown }>({
          name: 'get',
          text: 'SELECT doc FROM things WHERE thing_id = $1',
          values: [id],
        })
        .then((r) => reply(r.rows, false), fail);
    } else {
      const building = /"([^"]*)"/.exec(u.searchParams.get('filter') ?? '')?.[1] ?? '';
      pool
        .query<{ doc: unknown }>({
          name: 'search',
          // The matches' ids first, then 26 documents by id: left to itself PostgreSQL cannot tell
          // how many documents a containment matches and walks the primary key in order instead,
          // checking every document (3-4 times the CPU at 100,000 things).
          text:
            'WITH c AS MATERIALIZED (SELECT thing_id FROM things WHERE doc @> $1) SELECT t.doc' +
            ' FROM (SELECT thing_id FROM c ORDER BY thing_id LIMIT 26) p' +
            ' CROSS JOIN LATERAL (SELECT doc FROM things t WHERE t.thing_id = p.thing_id OFFSET 0) t' +
            ' ORDER BY p.thing_id',
          values: [JSON.stringify({ attributes: { building } })],
        })
        .then((r) => reply(r.rows.slice(0, 25), true), fail);
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  process.once('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
  return (server.address() as { port: number }).port;
}

const port = mode === 'raw' ? await startRaw() : await startApp(mode === 'anon');
process.send?.({ port });
