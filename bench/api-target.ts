import { createServer } from 'node:http';
import pg from 'pg';
import { closeApp, createApp } from '../src/bootstrap.js';
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
  // As npm start stops: the requests autocannon left in flight are answered first.
  process.once('SIGTERM', () => void closeApp(app).then(() => process.exit(0)));
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
    } else if (u.searchParams.get('option')?.startsWith(SORTED)) {
      sortedPage(pool, u, res).catch(fail);
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

/** The sorted search bench:api pages through: the bare server answers only this sort. */
const SORTED = 'sort(-features/energy/properties/power)';

/**
 * A page of 25 of the building's things by power, highest first, then by thingId as Ditto breaks
 * ties, and a cursor when more follow: keyset paging as an expert would write it. The matches'
 * ids and sort values come first from the containment (GIN), are sorted, and only the page's 26
 * documents are read; the cursor is the last row's (value, thingId), opaque to the client as the
 * platform's. The value is compared as jsonb, as the platform orders JSON values.
 */
async function sortedPage(pool: pg.Pool, u: URL, res: import('node:http').ServerResponse): Promise<void> {
  const building = /"([^"]*)"/.exec(u.searchParams.get('filter') ?? '')?.[1] ?? '';
  const cursor = /cursor\(([A-Za-z0-9_-]+)\)/.exec(u.searchParams.get('option') ?? '')?.[1];
  const [value, after] = cursor
    ? (JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string])
    : [null, null];
  const { rows } = await pool.query<{ doc: { thingId: string }; v: string }>({
    name: 'sorted',
    text:
      "WITH c AS MATERIALIZED (SELECT thing_id, COALESCE(doc #> '{features,energy,properties,power}', 'null') AS v" +
      ' FROM things WHERE doc @> $1)' +
      ' SELECT t.doc, p.v::text AS v FROM (SELECT thing_id, v FROM c' +
      ' WHERE $2::jsonb IS NULL OR v < $2::jsonb OR (v = $2::jsonb AND thing_id > $3)' +
      ' ORDER BY v DESC, thing_id LIMIT 26) p' +
      ' CROSS JOIN LATERAL (SELECT doc FROM things t WHERE t.thing_id = p.thing_id OFFSET 0) t' +
      ' ORDER BY p.v DESC, p.thing_id',
    values: [JSON.stringify({ attributes: { building } }), value, after],
  });
  const page = rows.slice(0, 25);
  const last = page[page.length - 1];
  const next =
    rows.length > 25
      ? Buffer.from(JSON.stringify([last.v, last.doc.thingId])).toString('base64url')
      : undefined;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ items: page.map((r) => r.doc), ...(next ? { cursor: next } : {}) }));
}

const port = mode === 'raw' ? await startRaw() : await startApp(mode === 'anon');
process.send?.({ port });
