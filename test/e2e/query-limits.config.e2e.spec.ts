import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';

/**
 * The query limits come from the config (RQL_MAX_NODES, RQL_MAX_SORT_KEYS, FIELDS_MAX_ENTRIES):
 * set low here, a query just over them is Ditto's 400 and one at them is answered.
 */
const NS = 'org.limitsconf';
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ RQL_MAX_NODES: '10', RQL_MAX_SORT_KEYS: '2', FIELDS_MAX_ENTRIES: '3' });
  await dittoHttp(t.baseUrl)
    .put(`/api/2/things/${NS}:t-1`)
    .send({ attributes: { n: 1, a: 'x', b: 'y' } })
    .expect(201);
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const search = (query: Record<string, string>) =>
  dittoHttp(t.baseUrl)
    .get('/api/2/search/things')
    .query({ namespaces: NS, ...query });

describe('configured query limits', () => {
  it('RQL_MAX_NODES: in() with 10 values is answered, with 11 it is over the limit', async () => {
    // in() with its first value is one term, each further value one more.
    const values = (n: number) => Array.from({ length: n }, (_, i) => i + 1).join(',');
    const ok = await search({ filter: `in(attributes/n,${values(10)})` }).expect(200);
    expect(ok.body.items).toHaveLength(1);
    const res = await search({ filter: `in(attributes/n,${values(11)})` }).expect(400);
    expect(res.body).toMatchObject({
      status: 400,
      error: 'rql.expression.invalid',
      message: expect.stringContaining('more than 10 operators and values'),
    });
  });

  it('RQL_MAX_SORT_KEYS: two sort keys are answered, three are over the limit', async () => {
    await search({ option: 'sort(+attributes/a,-attributes/b)' }).expect(200);
    const res = await search({ option: 'sort(+attributes/a,-attributes/b,+thingId)' }).expect(400);
    expect(res.body).toMatchObject({
      status: 400,
      error: 'thing-search:search.option.invalid',
      message: expect.stringContaining('at most 2 sort properties'),
    });
  });

  it('FIELDS_MAX_ENTRIES: three fields are answered, four are over the limit, on search and on get', async () => {
    await search({ fields: 'thingId,attributes/a,attributes/b' }).expect(200);
    const res = await search({ fields: 'thingId,attributes/a,attributes/b,attributes/n' }).expect(400);
    expect(res.body).toMatchObject({
      status: 400,
      error: 'things:field.selection.invalid',
      message: expect.stringContaining('more than 3 fields'),
    });
    const get = await dittoHttp(t.baseUrl)
      .get(`/api/2/things/${NS}:t-1`)
      .query({ fields: 'thingId,attributes(a,b,n)' })
      .expect(400);
    expect(get.body.error).toBe('things:field.selection.invalid');
  });
});
