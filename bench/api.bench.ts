import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { authContext } from '../src/auth/auth-context.js';
import { BASIC_SUBJECT_ISSUER } from '../src/auth/auth.service.js';
import type { PolicyJson } from '../src/policies/model/policy.types.js';
import type { TwinCommand } from '../src/twins/twin.types.js';
import { cacheAdvice } from '../src/twins/search-cache.js';
import { TwinsRepository } from '../src/twins/twins.repository.js';
import { BENCH_USER, benchAuthHeaders } from './auth.js';
import {
  benchDatabase,
  cpuSecondsOf,
  load,
  machine,
  postgresCpu,
  postgresCpuSince,
  seedTwins,
  startServer,
  stopServer,
  type LoadResult,
} from './support.js';

/**
 * `npm run bench:api`: seeds THINGS things, each with its own policy, through the twin service as
 * the bench user (so the platform creates every policy and its readers summary as a REST create
 * does), then load-tests GET of one thing, an attribute search, and the same search sorted by a
 * property with its first and second pages (the second by cursor) on
 * - the platform with authentication and policy enforcement (`app`),
 * - the same platform with AUTH_ANONYMOUS=true: no credentials, no enforcement (`anon`),
 * - a bare node:http + pg server answering the same rows (`raw`),
 * in the same run. Prints figures; asserts nothing.
 */
const THINGS = Number(process.env.BENCH_THINGS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** Batches written at once while seeding (each its own transaction). */
const SEED_PARALLEL = Number(process.env.BENCH_SEED_PARALLEL ?? 2);
const SEED_BATCH = 1000;
const BUILDINGS = 1000;
const target = fileURLToPath(new URL('./api-target.js', import.meta.url));
const SUBJECT = `${BASIC_SUBJECT_ISSUER}:${BENCH_USER.username}`;
const AUTH = authContext([SUBJECT]);

const all = { grant: ['READ', 'WRITE'], revoke: [] } as PolicyJson['entries'][string]['resources'][string];
const read = { grant: ['READ'], revoke: [] } as PolicyJson['entries'][string]['resources'][string];

/**
 * The policy thing `i` is created with: every one its own (policyId = thingId) and every one
 * granting the bench user READ and WRITE on `thing:/`. A quarter get the platform's default policy
 * (no `_policy` in the create), the others an inline one with a second entry for other subjects:
 * a tenant reading the attributes, a support user reading all but one property (a revoke), or an
 * operations group writing the features. Things 25,000–25,999 and 75,000–75,999 (2 in each
 * building) also revoke the bench user's READ of one attribute, so it reads them only in part and
 * search checks them in memory.
 */
function policyOf(i: number): PolicyJson | undefined {
  const block = Math.floor(i / BUILDINGS);
  const kind = block % 4;
  if (kind === 0) return undefined;
  const partial = block % 50 === 25;
  const owner: PolicyJson['entries'][string] = {
    subjects: { [SUBJECT]: { type: 'generated' } },
    resources: {
      'thing:/': all,
      'policy:/': all,
      'message:/': all,
      ...(partial ? { 'thing:/attributes/installed': { grant: [], revoke: ['READ'] } } : {}),
    },
  };
  const other: PolicyJson['entries'][string] =
    kind === 1
      ? {
          subjects: { [`nginx:tenant-${i % 100}`]: { type: 'tenant' } },
          resources: { 'thing:/attributes': read },
        }
      : kind === 2
        ? {
            subjects: { 'nginx:support': { type: 'support' } },
            resources: {
              'thing:/': read,
              'thing:/features/energy/properties/total': { grant: [], revoke: ['READ'] },
            },
          }
        : {
            subjects: { [`nginx:ops-${i % 10}`]: { type: 'ops' }, 'nginx:ops-all': { type: 'ops' } },
            resources: { 'thing:/features': all },
          };
  return { policyId: `bench:meter-${i}`, entries: { OWNER: owner, OTHER: other } };
}

function thingCommand(i: number): TwinCommand {
  const policy = policyOf(i);
  return {
    type: 'create',
    thingId: `bench:meter-${i}`,
    path: [],
    origin: 'rest',
    auth: AUTH,
    value: {
      attributes: { building: `B${i % BUILDINGS}`, floor: i % 20, installed: '2024-01-01' },
      features: { energy: { properties: { power: (i * 7) % 5000, total: i * 13.5 } } },
      ...(policy ? { _policy: policy } : {}),
    },
  };
}

function seed(url: string, from: number, count: number): Promise<number> {
  return seedTwins(url, count, thingCommand, { batch: SEED_BATCH, parallel: SEED_PARALLEL, from });
}

async function countThings(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM things');
    return Number(rows[0].n);
  } finally {
    await c.end();
  }
}

async function seeded(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<Record<string, string>>(
      `SELECT (SELECT count(*) FROM things) AS things, (SELECT count(*) FROM policies) AS policies,
              (SELECT count(DISTINCT policy_id) FROM things) AS distinct_policies,
              (SELECT count(*) FROM policy_readers) AS readers,
              (SELECT count(*) FROM policy_readers WHERE subject = $1 AND reads_all AND NOT revokes_some) AS full,
              (SELECT count(*) FROM policy_readers WHERE subject = $1 AND NOT (reads_all AND NOT revokes_some)) AS partial`,
      [SUBJECT],
    );
    await c.query('VACUUM ANALYZE');
    const r = rows[0];
    return `${r.things} things, ${r.policies} policies (${r.distinct_policies} distinct policyIds on things), ${r.readers} policy_readers rows; ${SUBJECT} reads ${r.full} whole, ${r.partial} in part\n${await cacheFit(c)}`;
  } finally {
    await c.end();
  }
}

/**
 * Whether PostgreSQL's cache holds what reads and searches touch, as the platform's own check
 * measures it: past it, a search reads each match's page from the kernel.
 */
async function cacheFit(c: pg.Client): Promise<string> {
  const db = { query: async <T>(sql: string) => (await c.query(sql)).rows as T[] };
  const fit = await new TwinsRepository().cacheFit(db);
  const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;
  return `PostgreSQL's shared_buffers ${mb(fit.cacheBytes)}; things, policies and policy_readers with their indexes ${mb(fit.dataBytes)}: ${cacheAdvice(fit) ? 'NOT cached whole (searches read pages from the kernel)' : 'cached whole'}`;
}

/** The sort of the paged searches: a building's things by power, highest first (ties by thingId). */
const SORTED = 'sort(-features/energy/properties/power)';

const buildingFilter = (k: number): string =>
  `filter=${encodeURIComponent(`eq(attributes/building,"B${(k * 7) % BUILDINGS}")`)}`;

/**
 * GETs of 1,000 things spread over the first `things`, 100 searches by building, and the first
 * pages of the same 100 searches sorted by power (their second pages need each server's cursor).
 */
function requestsFor(things: number): { ids: string[]; searches: string[]; firstPages: string[] } {
  return {
    ids: Array.from({ length: 1000 }, (_, k) => `/api/2/things/bench:meter-${(k * 97) % things}`),
    searches: Array.from({ length: 100 }, (_, k) => `/api/2/search/things?${buildingFilter(k)}`),
    firstPages: Array.from(
      { length: 100 },
      (_, k) => `/api/2/search/things?${buildingFilter(k)}&option=${encodeURIComponent(SORTED)}`,
    ),
  };
}

/**
 * Each first page followed by its second page, asked with the cursor the server returned (Ditto's
 * cursor is only valid with the same filter and sort): what a client paging through a sorted
 * result sends. A building whose matches fit one page (25 or fewer: 10 at 10,000 things) has
 * no second page. Also what the first building's pages hold, to see every server answers alike.
 */
async function pagedRequests(
  port: number,
  headers: Record<string, string>,
  firstPages: string[],
): Promise<{ paths: string[]; answer: string; secondPages: number }> {
  const paths: string[] = [];
  let answer = '';
  let secondPages = 0;
  for (const first of firstPages) {
    const page1 = await fetchPage(port, headers, first);
    const second = page1.cursor
      ? `${first.slice(0, first.indexOf('&option='))}&option=${encodeURIComponent(`${SORTED},cursor(${page1.cursor})`)}`
      : undefined;
    paths.push(first);
    if (second) {
      paths.push(second);
      secondPages++;
    }
    if (answer === '') {
      const page2 = second ? await fetchPage(port, headers, second) : { ids: [] };
      answer = [...page1.ids, ...page2.ids].join(',');
    }
  }
  return { paths, answer, secondPages };
}

async function fetchPage(
  port: number,
  headers: Record<string, string>,
  path: string,
): Promise<{ ids: string[]; cursor?: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { items: { thingId: string }[]; cursor?: string };
  return { ids: body.items.map((i) => i.thingId), cursor: body.cursor };
}

type Mode = 'app' | 'anon' | 'raw';
/** CPU per request, in µs: the server process and every PostgreSQL process. */
interface Metered extends LoadResult {
  serverUs: number;
  postgresUs: number;
}

interface Measured {
  get: Metered;
  search: Metered;
  /** Sorted searches, first pages and second pages by cursor alternately. */
  paged: Metered;
  /** What one GET and one search answered before the load, to see both modes answer alike. */
  probe: string;
  /** The thingIds of the first building's two sorted pages. */
  pagedAnswer: string;
  /** Of the 100 sorted searches, how many have a second page. */
  secondPages: number;
}

async function measure(mode: Mode, url: string, things: number): Promise<Measured> {
  const { ids, searches, firstPages } = requestsFor(things);
  const { port, child } = await startServer(target, [mode], { DATABASE_URL: url }, mode !== 'raw');
  // The enforcing platform wants credentials (checked on every request); the others check none.
  const headers: Record<string, string> = mode === 'app' ? benchAuthHeaders() : {};
  try {
    const probe = await probeOnce(port, headers, ids[1], searches[1]);
    const paging = await pagedRequests(port, headers, firstPages);
    await load(port, ids, 2, CONNECTIONS, headers); // warm-up: JIT, pool, caches
    await load(port, searches, 2, CONNECTIONS, headers);
    await load(port, paging.paths, 2, CONNECTIONS, headers);
    const pid = child.pid ?? 0;
    const get = await metered(pid, () => load(port, ids, SECONDS, CONNECTIONS, headers));
    const search = await metered(pid, () => load(port, searches, SECONDS, CONNECTIONS, headers));
    const paged = await metered(pid, () => load(port, paging.paths, SECONDS, CONNECTIONS, headers));
    return { get, search, paged, probe, pagedAnswer: paging.answer, secondPages: paging.secondPages };
  } finally {
    // Requests autocannon left in flight finish before the server shuts down its pool.
    await new Promise((ok) => setTimeout(ok, 1000));
    await stopServer(child);
  }
}

/**
 * The load's result with the CPU the server process and PostgreSQL spent per request: on two
 * shared cores, where the rate is bounded by what both spend, this says which side to look at.
 */
async function metered(pid: number, run: () => Promise<LoadResult>): Promise<Metered> {
  const server = cpuSecondsOf(pid);
  const postgres = postgresCpu();
  const result = await run();
  const per = (seconds: number) => (seconds * 1e6) / Math.max(1, result.total);
  return {
    ...result,
    serverUs: per(cpuSecondsOf(pid) - server),
    postgresUs: per(postgresCpuSince(postgres)),
  };
}

async function probeOnce(
  port: number,
  headers: Record<string, string>,
  id: string,
  filter: string,
): Promise<string> {
  const base = `http://127.0.0.1:${port}`;
  const get = await fetch(base + id, { headers });
  const search = await fetch(base + filter, { headers });
  const items = ((await search.json()) as { items?: unknown[] }).items?.length;
  await get.arrayBuffer();
  return `GET ${get.status}, search ${search.status} with ${items ?? '?'} items`;
}

function cpu(m: Metered): string {
  return `${m.serverUs.toFixed(0)} + ${m.postgresUs.toFixed(0)}`;
}

function row(name: string, ours: LoadResult, base: LoadResult, baseName: string, target?: number): string {
  const f = (n: number) => n.toFixed(0).padStart(7);
  const ratio = ours.requestsPerSec / base.requestsPerSec;
  const verdict =
    target === undefined
      ? ''
      : ratio >= target
        ? `  (target ≥ ${target}: met)`
        : `  (target ≥ ${target}: MISSED)`;
  const trouble = (r: LoadResult, who: string) =>
    r.non2xx + r.errors > 0 ? `  (${who}: ${r.non2xx} non-2xx, ${r.errors} errors!)` : '';
  return (
    `${name.padEnd(34)}${f(ours.requestsPerSec)} req/s  p99 ${f(ours.p99)} ms | ${baseName.padEnd(9)}${f(base.requestsPerSec)} req/s  p99 ${f(base.p99)} ms | ratio ${ratio.toFixed(2)}` +
    verdict +
    trouble(ours, 'ours') +
    trouble(base, baseName)
  );
}

/**
 * BENCH_REUSE_URL: measure on a database a previous run kept (BENCH_KEEP=1), without seeding, to
 * compare changes to the platform on the same data.
 */
const reuse = process.env.BENCH_REUSE_URL;
/**
 * BENCH_SIZES: things to measure at, ascending (e.g. `10000,100000,1000000`); the database grows
 * from one size to the next, and a table at the end shows how the figures change with it.
 * Defaults to BENCH_THINGS alone. With BENCH_REUSE_URL the kept database is measured as it is.
 */
const SIZES = (process.env.BENCH_SIZES ?? String(THINGS))
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const db = reuse ? { url: reuse, close: () => Promise.resolve() } : await benchDatabase();
const grown: { things: number; app: Measured; raw: Measured; seedRate?: number }[] = [];
try {
  console.log(`machine: ${machine()}`);
  let have = 0;
  // A kept database is measured at the size it has, whatever BENCH_SIZES says.
  for (const things of reuse ? [await countThings(db.url)] : SIZES) {
    let seedRate: number | undefined;
    if (!reuse) {
      console.log(
        `\nseeding things ${have}…${things - 1}, each with its own policy, through TwinsService.applyMany as ${SUBJECT} (batches of ${SEED_BATCH}, ${SEED_PARALLEL} at a time)…`,
      );
      seedRate = await seed(db.url, have, things);
      console.log(
        `seeded at ${seedRate.toFixed(0)} things/s (${((things - have) / seedRate).toFixed(0)} s; thing and policy per create)`,
      );
      have = things;
    }
    console.log(`seeded: ${await seeded(db.url)}`);
    const app = await measure('app', db.url, things);
    const anon = await measure('anon', db.url, things);
    const raw = await measure('raw', db.url, things);
    grown.push({ things, app, raw, seedRate });
    console.log(`probe: enforced ${app.probe}; anonymous ${anon.probe}; raw ${raw.probe}`);
    const alike = app.pagedAnswer === raw.pagedAnswer && anon.pagedAnswer === raw.pagedAnswer;
    console.log(
      `sorted pages of one building: ${alike ? `the same ${raw.pagedAnswer.split(',').length} things in the same order from all three` : `DIFFER: enforced ${app.pagedAnswer} | anonymous ${anon.pagedAnswer} | raw ${raw.pagedAnswer}`}; ${raw.secondPages} of the 100 sorted searches have a second page`,
    );
    console.log(
      `\nautocannon, ${CONNECTIONS} connections, ${SECONDS} s each, ${things} things with ${things} policies:`,
    );
    console.log('platform (basic auth + policies enforced) vs bare node:http + pg:');
    console.log(row('GET /api/2/things/{id}', app.get, raw.get, 'raw', 0.7));
    console.log(row('search eq(attributes/…)', app.search, raw.search, 'raw'));
    console.log(row('  sorted, pages 1+2 by cursor', app.paged, raw.paged, 'raw'));
    const searchGoal = things >= 1_000_000 ? 300 : 1000;
    const met = app.search.requestsPerSec >= searchGoal ? 'met' : 'MISSED';
    console.log(
      `search enforced: ${app.search.requestsPerSec.toFixed(0)} req/s (goal ≥ ${searchGoal}: ${met})`,
    );
    console.log('platform enforced vs the same platform with AUTH_ANONYMOUS=true (nothing enforced):');
    console.log(row('GET /api/2/things/{id}', app.get, anon.get, 'anonymous', 0.9));
    console.log(row('search eq(attributes/…)', app.search, anon.search, 'anonymous', 0.75));
    console.log(row('  sorted, pages 1+2 by cursor', app.paged, anon.paged, 'anonymous'));
    console.log('platform with AUTH_ANONYMOUS=true vs bare node:http + pg:');
    console.log(row('GET /api/2/things/{id}', anon.get, raw.get, 'raw'));
    console.log(row('search eq(attributes/…)', anon.search, raw.search, 'raw'));
    console.log(row('  sorted, pages 1+2 by cursor', anon.paged, raw.paged, 'raw'));
    console.log('CPU per request, µs (server process + PostgreSQL):');
    for (const kind of ['get', 'search', 'paged'] as const) {
      console.log(
        `  ${kind.padEnd(6)} enforced ${cpu(app[kind])} | anonymous ${cpu(anon[kind])} | bare ${cpu(raw[kind])}`,
      );
    }
  }
  if (grown.length > 1) {
    console.log('\nhow it grows (platform enforced | bare node:http + pg):');
    console.log(
      '    things | GET req/s  p99 ms |  bare req/s | ratio | search req/s  p99 ms |  bare req/s | ratio | sorted pages req/s  p99 ms |  bare req/s | ratio | seeded things/s',
    );
    for (const g of grown) {
      const cell = (r: LoadResult) =>
        `${r.requestsPerSec.toFixed(0).padStart(9)} ${r.p99.toFixed(0).padStart(7)}`;
      const ratio = (a: LoadResult, b: LoadResult) =>
        (a.requestsPerSec / b.requestsPerSec).toFixed(2).padStart(5);
      console.log(
        `${String(g.things).padStart(10)} | ${cell(g.app.get)} | ${g.raw.get.requestsPerSec.toFixed(0).padStart(11)} | ${ratio(g.app.get, g.raw.get)} | ` +
          `${cell(g.app.search)}    | ${g.raw.search.requestsPerSec.toFixed(0).padStart(11)} | ${ratio(g.app.search, g.raw.search)} | ` +
          `${cell(g.app.paged).padStart(26)} | ${g.raw.paged.requestsPerSec.toFixed(0).padStart(11)} | ${ratio(g.app.paged, g.raw.paged)} | ${g.seedRate?.toFixed(0) ?? '—'}`,
      );
    }
    console.log('\nCPU per request, µs (server process + PostgreSQL), platform enforced | bare:');
    console.log(
      '    things |             GET |        bare GET |          search |     bare search |   sorted pages | bare sorted pages',
    );
    for (const g of grown) {
      console.log(
        `${String(g.things).padStart(10)} | ${cpu(g.app.get).padStart(15)} | ${cpu(g.raw.get).padStart(15)} | ${cpu(g.app.search).padStart(15)} | ${cpu(g.raw.search).padStart(15)} | ${cpu(g.app.paged).padStart(14)} | ${cpu(g.raw.paged).padStart(17)}`,
      );
    }
  }
} finally {
  if (process.env.BENCH_KEEP && !reuse) console.log(`kept the database: BENCH_REUSE_URL=${db.url}`);
  else await db.close();
}
