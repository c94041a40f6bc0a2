import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchesRql } from '../../src/twins/search/rql-match.js';
import { parseRql } from '../../src/twins/search/index.js';
import { parseFields } from '../../src/twins/thing-view.js';
import { TwinsQueryService } from '../../src/twins/twins-query.service.js';
import { authHeaders } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * Event filters are evaluated in memory (rql-match.ts), searches in SQL (rql.sql.ts). Both must
 * agree: every filter here runs both ways over the same things and must select the same ones.
 */
let t: TestApp;
const NS = 'org.rql';

const THINGS: Record<string, unknown> = {
  a: {
    attributes: { n: 5, s: 'alpha', tags: ['red', 'blue'], b: true, nested: { x: 1 } },
    features: { f1: { properties: { t: 20, unit: 'C' } } },
  },
  b: {
    attributes: { n: 10, s: 'beta', tags: [], b: false, nil: null },
    features: { f1: { properties: { t: 25 } }, f2: { properties: { t: 30 } } },
  },
  c: {
    attributes: { n: '5', s: 'Alpha', tags: ['green'], empty: '', obj: {} },
    features: { f2: { properties: { t: 15, list: [1, 2, 3] } } },
  },
  d: {
    attributes: { n: 5.0, s: 'gamma*?', arr: [{ k: 1 }, { k: 2 }], deep: [[1, 2]] },
    definition: 'org.rql:Def:1.0.0',
  },
  e: { attributes: { s: 'ünïcode ✓', n: -1.5e3, mixed: [1, 'one', null, true] } },
  f: {},
};

const FILTERS = [
  'eq(attributes/n,5)',
  'eq(attributes/n,"5")',
  'ne(attributes/n,5)',
  'gt(attributes/n,5)',
  'ge(attributes/n,5)',
  'lt(attributes/n,0)',
  'le(attributes/n,10)',
  'in(attributes/n,5,10)',
  'in(attributes/s,"alpha","beta")',
  'eq(attributes/tags,"red")',
  'ne(attributes/tags,"red")',
  'eq(attributes/b,true)',
  'eq(attributes/b,false)',
  'ne(attributes/b,true)',
  'eq(attributes/nil,null)',
  'eq(attributes/mixed,null)',
  'eq(attributes/mixed,"one")',
  'gt(attributes/mixed,0)',
  'eq(attributes/nested/x,1)',
  'eq(attributes/arr/k,1)',
  'gt(attributes/arr/k,1)',
  'eq(attributes/deep,1)',
  'gt(attributes/s,"beta")',
  'lt(attributes/s,"beta")',
  'gt(attributes/s,"z")',
  'like(attributes/s,"al*")',
  'ilike(attributes/s,"al*")',
  'like(attributes/s,"?eta")',
  'like(attributes/s,"*ode*")',
  'like(attributes/tags,"r*")',
  'exists(attributes/tags)',
  'exists(attributes/nil)',
  'exists(attributes/missing)',
  'empty(attributes/tags)',
  'empty(attributes/empty)',
  'empty(attributes/obj)',
  'empty(attributes/nil)',
  'empty(attributes/missing)',
  'not(empty(attributes/tags))',
  'exists(features/f1)',
  'eq(features/*/properties/t,30)',
  'gt(features/*/properties/t,20)',
  'exists(features/*/properties/unit)',
  'eq(features/f2/properties/list,2)',
  'gt(features/f2/properties/list,2)',
  'and(exists(features/f1),gt(attributes/n,5))',
  'or(eq(attributes/s,"alpha"),eq(attributes/s,"gamma*?"))',
  'not(exists(features))',
  'eq(thingId,"org.rql:a")',
  'like(thingId,"org.rql:?")',
  'ne(thingId,"org.rql:a")',
  'in(_namespace,"org.rql","x")',
  'gt(_revision,0)',
  'eq(_revision,"1")',
  'eq(policyId,"org.rql:b")',
  'eq(definition,"org.rql:Def:1.0.0")',
  'exists(definition)',
  'lt(_modified,time:now)',
  'gt(_created,"2000-01-01")',
  'like(_created,"20*")',
  'empty(thingId)',
  'gt(attributes/b,false)',
  'ge(attributes/nil,null)',
  'eq(features/f1/properties/t,20)',
  'ilike(attributes/s,"ÜNÏ*")',
  'gt(attributes/s,"ü")',
  'gt(thingId,"org.rql:B")',
  'lt(policyId,"org.rql:c")',
];

beforeAll(async () => {
  t = await startTestApp();
  for (const [name, body] of Object.entries(THINGS)) {
    const res = await fetch(`${t.baseUrl}/api/2/things/${NS}:${name}`, {
      method: 'PUT',
      headers: { ...authHeaders(), 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(201);
  }
});
afterAll(async () => {
  await t.close();
});

describe('in-memory RQL agrees with the SQL search', () => {
  it.each(FILTERS)('%s', async (filter) => {
    const url = `${t.baseUrl}/api/2/search/things?namespaces=${NS}&option=size(200)&fields=thingId&filter=${encodeURIComponent(filter)}`;
    const res = await fetch(url, { headers: authHeaders() });
    expect(res.status).toBe(200);
    const sql = ((await res.json()) as { items: { thingId: string }[] }).items.map((i) => i.thingId).sort();

    const views = await t.app.get(TwinsQueryService).getMany(
      Object.keys(THINGS).map((n) => `${NS}:${n}`),
      parseFields('thingId,policyId,definition,attributes,features,_namespace,_revision,_created,_modified'),
    );
    const node = parseRql(filter);
    const memory = views
      .filter((doc) => matchesRql(node, { doc }))
      .map((doc) => String(doc.thingId))
      .sort();
    expect(memory).toEqual(sql);
  });
});
