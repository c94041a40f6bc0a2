import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { authHeaders } from '../support/auth.js';
import { expectTwinsEqualTheirReplay } from '../support/journal-invariants.js';
import { DittoSocket } from './realtime.support.js';

/**
 * Property-based fuzzing of the API with a fixed seed (FUZZ_SEED, FUZZ_RUNS to go further): REST
 * requests over paths, methods, headers, bodies, RQL, fields and options, and WebSocket frames.
 * Whatever is sent, the answer is 2xx/3xx/4xx (a 4xx in Ditto's error JSON, never a 5xx), the
 * process stays up and the journal stays gap-free.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const NS = 'org.fuzz';
let t: TestApp;

const nasty = fc.constantFrom(
  '',
  ' ',
  'a',
  'a\u0000b',
  '\ud800',
  '\udc00x',
  '😀',
  '~',
  '~0',
  '~1',
  '%',
  '%00',
  '%E0%A4%A',
  '..',
  '/',
  '//',
  '*',
  '{{ ~.*~ }}',
  '"',
  "'",
  '\\',
  'x'.repeat(300),
);
const segment = fc.oneof(
  fc.string({ maxLength: 12 }),
  nasty,
  fc.constantFrom('attributes', 'features', 'properties'),
);
const thingId = fc.oneof(
  { arbitrary: fc.constantFrom(`${NS}:a`, `${NS}:b`, `${NS}:c`), weight: 4 },
  fc.tuple(fc.string({ maxLength: 8 }), segment).map(([ns, n]) => `${ns}:${n}`),
  nasty,
);
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, '', 'x', '\u0000', '\ud800'),
    fc.string({ maxLength: 10 }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), nasty), tie('value'), { maxKeys: 3 }),
  ),
})).value;
const bodyText = fc.oneof(
  { arbitrary: json.map((v) => JSON.stringify(v) ?? 'null'), weight: 4 },
  fc.string({ maxLength: 40 }),
  fc.constantFrom('{', '[1,', '1e400', '-1e400', 'NaN', '{"a":1} x', '"\\ud800"', '{"\\u0000":1}'),
);
const rql = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    'eq(attributes/a,1)',
    'like(thingId,"*a*a*a*a*a*a*a*a*b")',
    'in(attributes/a,1,2,3)',
    'and(exists(features),not(eq(attributes/x,"\\u0000")))',
    'gt(_modified,"nope")',
    'or(',
    'eq(attributes/a,"\\ud800")',
  ),
);
const query = fc.record(
  {
    fields: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('thingId,attributes(a,b)', 'features/*/properties', '('),
    ),
    filter: rql,
    option: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('sort(+thingId)', 'size(0)', 'size(201)', 'cursor(x)'),
    ),
    namespaces: fc.oneof(fc.constant(NS), fc.string({ maxLength: 10 })),
    ids: fc.array(thingId, { maxLength: 3 }).map((a) => a.join(',')),
  },
  { requiredKeys: [] },
);
/** Mostly none: each header is there in one request of four, so most requests get past them. */
const rarely = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
const headers = fc
  .record({
    'if-match': rarely(fc.constantFrom('*', '"rev:1"', '"hash:x"', 'garbage', '')),
    'if-none-match': rarely(fc.constantFrom('*', '"rev:2"', 'x')),
    'content-type': rarely(
      fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', '', 'application/json'),
    ),
    'correlation-id': rarely(fc.string({ maxLength: 20 }).filter((x) => /^[\x20-\x7e]*$/.test(x))),
    'at-historical-revision': rarely(fc.constantFrom('1', '-1', 'x', '99999999999999999999')),
  })
  .map(
    (h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>,
  );
const encode = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    // A lone surrogate cannot be percent-encoded as UTF-8: send it raw-ish, as a broken client would.
    return escape(s);
  }
};
/** Ditto's resource levels of a thing, with fuzzed keys: most requests reach the write path. */
const resource = fc.oneof(
  fc.constant(''),
  fc.constantFrom('/attributes', '/features', '/policyId', '/definition'),
  segment.map((k) => `/attributes/${encode(k)}`),
  fc.tuple(segment, segment).map(([a, b]) => `/attributes/${encode(a)}/${encode(b)}`),
  segment.map((f) => `/features/${encode(f)}`),
  fc.tuple(segment, segment).map(([f, k]) => `/features/${encode(f)}/properties/${encode(k)}`),
  fc.tuple(segment, segment).map(([f, k]) => `/features/${encode(f)}/desiredProperties/${encode(k)}`),
);
const path = fc.oneof(
  { arbitrary: fc.tuple(thingId, resource).map(([id, r]) => `/api/2/things/${encode(id)}${r}`), weight: 6 },
  fc.constantFrom(
    '/api/2/things',
    '/api/2/search/things',
    '/api/2/search/things/count',
    '/api/2/whoami',
    '/api/2/checkPermissions',
  ),
  fc
    .tuple(thingId, fc.array(segment, { maxLength: 3 }))
    .map(([id, segs]) => `/api/2/policies/${encode(id)}${segs.map((x) => `/${encode(x)}`).join('')}`),
);
const method = fc.constantFrom<'get' | 'put' | 'patch' | 'post' | 'delete'>(
  'get',
  'put',
  'patch',
  'post',
  'delete',
);

beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_PER_SECOND: '0' });
  for (const name of ['a', 'b', 'c']) {
    await request(t.baseUrl)
      .put(`/api/2/things/${NS}:${name}`)
      .set(authHeaders())
      .send({ attributes: { a: 1, b: 'x' }, features: { f: { properties: { p: 1 } } } })
      .expect(201);
  }
});
afterAll(async () => {
  await t?.close();
});

async function journalGapFree(): Promise<void> {
  const { rows } = await t.db.query<{ thing_id: string; revs: string[] }>(
    `SELECT thing_id, array_agg(revision ORDER BY seq) AS revs FROM journal WHERE entity = 'thing' GROUP BY thing_id`,
  );
  for (const r of rows) {
    const revs = r.revs.map(Number);
    for (let i = 1; i < revs.length; i++) {
      // A re-created thing continues its revisions; every change adds exactly one.
      expect([r.thing_id, revs[i]]).toEqual([r.thing_id, revs[i - 1] + 1]);
    }
  }
}

describe('fuzzing (fixed seed)', () => {
  it('answers every REST request without a 5xx, in Ditto’s error JSON when it refuses', async () => {
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, bodyText, async (m, p, q, h, body) => {
        const params = new URLSearchParams(q as Record<string, string>).toString();
        let req = request(t.baseUrl)
          [m](params ? `${p}?${params}` : p)
          .set(authHeaders())
          .set('content-type', m === 'patch' ? 'application/merge-patch+json' : 'application/json');
        for (const [k, v] of Object.entries(h)) req = req.set(k, v);
        const res = m === 'get' || m === 'delete' ? await req : await req.send(body);
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400 && res.status !== 405 && res.headers['content-type']?.includes('json')) {
          expect(res.body).toMatchObject({
            status: res.status,
            error: expect.any(String),
            message: expect.any(String),
          });
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    await request(t.baseUrl).get('/health').expect(200);
    await journalGapFree();
    // Every thing the requests touched (any id) is what replaying its journal gives.
    expect(await expectTwinsEqualTheirReplay(t, '')).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('answers every WebSocket frame without an internal error and keeps the session', async () => {
    const ws = await DittoSocket.open(`${t.baseUrl.replace('http', 'ws')}/ws/2`);
    try {
      const topic = fc.oneof(
        fc
          .tuple(fc.constantFrom(NS, 'x', ''), fc.oneof(segment, fc.constantFrom('a', 'b')))
          .map(
            ([ns, n]) =>
              `${ns}/${n}/things/twin/commands/${['modify', 'retrieve', 'merge', 'delete', 'create'][n.length % 5]}`,
          ),
        fc.string({ maxLength: 30 }),
      );
      const frame = fc.oneof(
        fc
          .tuple(topic, fc.oneof(segment, fc.constant('/attributes/a')), json)
          .map(([tp, pth, value]) =>
            JSON.stringify({ topic: tp, path: pth, value, headers: { 'correlation-id': 'fz' } }),
          ),
        fc.string({ maxLength: 60 }),
        fc.constantFrom(
          'START-SEND-EVENTS?filter=(',
          'START-SEND-EVENTS?namespaces=%',
          'STOP-SEND-EVENTS',
          '{"topic":1}',
        ),
      );
      fc.assert(
        fc.property(frame, (f) => {
          ws.send(f);
        }),
        { seed: SEED, numRuns: Math.ceil(RUNS / 4) },
      );
      // A marker command: the session still answers, and nothing it answered was a 5xx.
      await request(t.baseUrl)
        .put(`/api/2/things/${NS}:marker`)
        .set(authHeaders())
        .send({ attributes: { a: 1 } });
      const answer = await ws.command({
        topic: `${NS}/marker/things/twin/commands/retrieve`,
        path: '/attributes/a',
      });
      expect(answer.status).toBe(200);
      const statuses = ws.messages.map((m) => m.status).filter((s): s is number => typeof s === 'number');
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
    } finally {
      await ws.close();
    }
    await journalGapFree();
  }, 120_000);
});
