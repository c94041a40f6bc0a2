import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { authContext } from '../../src/auth/auth-context.js';
import type { TwinCommand } from '../../src/twins/twin.types.js';
import { TwinsService } from '../../src/twins/twins.service.js';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';
import { authHeaders, testUser } from '../support/auth.js';

/**
 * Client-shaped queries are bounded: too many terms is a 400, a query running past
 * QUERY_TIMEOUT_MS is stopped (Ditto's 408), and a flood of expensive searches cannot take the
 * connections that reads by id need.
 */
const NS = 'org.limits';
const THINGS = 3000;
let t: TestApp;

/** A filter PostgreSQL needs a while for: many regex matches on every thing of the namespace. */
const slowFilter = `or(${Array.from({ length: 400 }, (_, i) => `like(attributes/text,"*${'a*'.repeat(6)}${i}z*")`).join(',')})`;

/** Ditto's form-encoded POST search: the filter is too long for a URL. */
const slowSearch = () =>
  request(t.baseUrl)
    .post('/api/2/search/things')
    .set(authHeaders())
    .type('form')
    .send({ namespaces: NS, filter: slowFilter });

/** THINGS things in NS whose text the slow filter has to scan: each app has a database of its own. */
async function seed(app: TestApp): Promise<void> {
  const twins = app.app.get(TwinsService);
  const auth = authContext([testUser().subject]);
  for (let from = 0; from < THINGS; from += 500) {
    const cmds: TwinCommand[] = Array.from({ length: 500 }, (_, k) => ({
      type: 'modify',
      thingId: `${NS}:t-${from + k}`,
      path: [],
      origin: 'rest',
      auth,
      value: { attributes: { text: 'a'.repeat(40) + String(from + k), n: from + k } },
    }));
    await twins.applyMany(cmds);
  }
}

beforeAll(async () => {
  t = await startTestApp({ QUERY_TIMEOUT_MS: '300', QUERY_POOL_SIZE: '2' });
  await seed(t);
}, 120_000);

afterAll(async () => {
  await t?.close();
});

describe('query limits', () => {
  it('refuses a filter with more than 1000 terms before it reaches the database', async () => {
    const values = Array.from({ length: 1001 }, (_, i) => i).join(',');
    const res = await dittoHttp(t.baseUrl)
      .get('/api/2/search/things')
      .query({ filter: `in(attributes/n,${values})` })
      .expect(400);
    expect(res.body.error).toBe('rql.expression.invalid');
  });

  it('refuses more than 16 sort keys', async () => {
    const keys = Array.from({ length: 17 }, (_, i) => `+attributes/k${i}`).join(',');
    const res = await dittoHttp(t.baseUrl)
      .get('/api/2/search/things')
      .query({ option: `sort(${keys})` })
      .expect(400);
    expect(res.body.error).toBe('thing-search:search.option.invalid');
  });

  it('stops a search that runs past QUERY_TIMEOUT_MS with Ditto’s 408', async () => {
    const res = await slowSearch();
    expect(res.status).toBe(408);
    expect(res.body.error).toBe('thing-search:query.time.exceeded');
  });

  it('keeps reads by id answering while expensive searches queue up', async () => {
    // supertest sends on then(): start all twelve now. Two query connections and a 300 ms
    // timeout make the twelve take six rounds; reads by id must not queue behind them.
    let answered = 0;
    const floods = Array.from({ length: 12 }, () =>
      slowSearch().then((r) => {
        answered += 1;
        return r;
      }),
    );
    await new Promise((ok) => setTimeout(ok, 50));
    for (let i = 0; i < 5; i++) {
      await request(t.baseUrl).get(`/api/2/things/${NS}:t-${i}`).set(authHeaders()).expect(200);
    }
    const answeredWhenReadsDone = answered;
    const answers = await Promise.all(floods);
    expect(answers.map((r) => `${r.status} ${(r.body as { error?: string }).error}`)).toEqual(
      Array(12).fill('408 thing-search:query.time.exceeded'),
    );
    // Every read was answered while searches were still waiting for the query connections.
    expect(answeredWhenReadsDone).toBeLessThan(12);
  });
});

describe('waiting for a query connection', () => {
  let one: TestApp;
  beforeAll(async () => {
    // One query connection; a search may wait 100 ms for it and run 300 ms on it.
    one = await startTestApp({
      QUERY_TIMEOUT_MS: '300',
      QUERY_POOL_SIZE: '1',
      QUERY_QUEUE_TIMEOUT_MS: '100',
    });
    // Without things to scan the searches would end at once and none would wait: the test would
    // pass only on a machine slow enough.
    await seed(one);
  }, 120_000);
  afterAll(async () => {
    await one?.close();
  });

  it('is bounded by QUERY_QUEUE_TIMEOUT_MS and answered as Ditto’s 408, not left to queue', async () => {
    const search = () =>
      request(one.baseUrl)
        .post('/api/2/search/things')
        .set(authHeaders())
        .type('form')
        .send({ namespaces: NS, filter: slowFilter })
        .then((r) => r);
    // Eight searches on one connection: those still waiting after 100 ms are answered 408.
    const answers = await Promise.all(Array.from({ length: 8 }, search));
    const seen = answers.map((r) =>
      r.status === 200 ? '200' : `${r.status} ${(r.body as { error?: string }).error}`,
    );
    expect(seen.filter((a) => a !== '200' && a !== '408 thing-search:query.time.exceeded')).toEqual([]);
    expect(seen).toContain('408 thing-search:query.time.exceeded');
  });
});
