import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { DomainError } from '../../src/common/domain-error.js';
import {
  buildCountQuery,
  buildSearchQuery,
  parseRql,
  parseSearchOptions,
  runSearch,
  toPage,
  tooManyCandidates,
  type SearchQueryInput,
  type SearchRow,
} from '../../src/twins/search/index.js';
import { createTestDatabase, migrateTestDatabase } from '../support/database.js';

/** The search SQL against real Postgres: operator semantics, ordering, cursor paging, index use. */

interface Fixture {
  id: string;
  /** JSON text, so numbers beyond double precision survive. */
  body: string;
  modified: string;
  policy?: string;
  revision: number;
  created: string;
}

// Several things share a modified time (with microseconds) so paging has ties to break.
const M1 = '2024-03-01T10:00:00.123456Z';
const M2 = '2024-03-01T10:00:00.123457Z';
const LAMP = (on: boolean, more = '') => `"features":{"lamp":{"properties":{"on":${on}${more}}}}`;

// Thing n has revision n and was created on 2024-01-n.
const FIXTURES: Fixture[] = [
  ['org.a:t01', M1, `{"attributes":{"x":5,"n":3,"s":"alpha","tags":["red","blue"]},${LAMP(true, ',"b":8')}}`],
  [
    'org.a:t02',
    M1,
    `{"attributes":{"x":"7","n":1,"s":"Alpha","nested":{"deep":{"v":1}}},${LAMP(false, ',"b":2')}}`,
  ],
  [
    'org.a:t03',
    M2,
    `{"attributes":{"x":7,"n":2,"s":"quote \\"double\\" and 'single'"},"features":{"sensor":{"properties":{"temp":21.5}}}}`,
  ],
  ['org.a:t04', M1, '{"attributes":{"x":[1,9],"n":3,"s":"back\\\\slash"}}'],
  ['org.a:t05', M2, '{"attributes":{"x":null,"s":"a*b?c"}}'],
  ['org.a:t06', M1, '{"attributes":{}}'],
  ['org.b:t07', M2, '{"attributes":{"x":[],"n":10,"s":""}}'],
  ['org.b:t08', M1, '{"attributes":{"x":{},"n":-1,"s":"ümlaut 🚀"}}'],
  ['org.b:t09', M2, '{"features":{"a":{"properties":{"temp":30}},"b":{"properties":{"temp":10}}}}'],
  ['org.b:t10', M1, '{"attributes":{"x":5.0,"n":2,"s":"a.c"}}'],
  ['org.b:t11', M2, '{"attributes":{"x":-3,"s":"abc"}}'],
  ['com.c:t12', M1, '{"attributes":{"x":1e3,"n":3,"tags":["green"],"s":"line1\\nline2"}}'],
  ['com.c:t13', M2, '{"attributes":{"x":true,"s":"ALPHA"}}'],
  ['com.c:t14', M1, '{"definition":"com.c:def:1.0","attributes":{"x":"5","n":0}}'],
  ['com.c:t15', M2, '{"attributes":{"x":[null],"n":7}}'],
  ['com.c:t16', M1, '{"attributes":{"big":12345678901234567890}}'],
  ['org.a:t17', M2, `{"attributes":{"key with~slash":1,"it's":"yes","a/b":2,"q\\"k\\\\":3}}`],
  ['org.a:t18', M1, `{"attributes":{"x":12,"n":1},${LAMP(true)}}`, 'org.a:other'],
  ['org.b:t19', M2, '{"attributes":{"s":"x%y_z","n":10}}'],
  [':t20', '2024-03-02T00:00:00Z', '{"attributes":{"x":6}}'],
].map(([id, modified, body, policy], i) => ({
  id,
  modified,
  body,
  policy,
  revision: i + 1,
  created: `2024-01-${String(i + 1).padStart(2, '0')}T00:00:00Z`,
}));

function attributesOf(id: string): Record<string, unknown> {
  const doc = JSON.parse(FIXTURES.find((x) => x.id === id)!.body) as { attributes?: Record<string, unknown> };
  return doc.attributes ?? {};
}

const ALL = FIXTURES.map((x) => x.id).sort();
const ids = (...n: number[]) => n.map((i) => FIXTURES[i - 1].id).sort();
const allBut = (...n: number[]) => ALL.filter((id) => !ids(...n).includes(id));

let client: pg.Client;
let drop: () => Promise<void>;

beforeAll(async () => {
  const db = await createTestDatabase();
  drop = db.drop;
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await migrateTestDatabase(db.url);
  for (const x of FIXTURES) {
    const policy = x.policy ?? x.id;
    const doc = `{"thingId":${JSON.stringify(x.id)},"policyId":${JSON.stringify(policy)},${x.body.slice(1)}`;
    await client.query(
      `INSERT INTO things (thing_id, namespace, policy_id, doc, revision, created_at, modified_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)`,
      [x.id, x.id.split(':')[0], policy, doc, x.revision, x.created, x.modified],
    );
  }
});

afterAll(async () => {
  await client?.end();
  await drop?.();
});

function request(filter?: string, option = 'size(200)', namespaces?: string[]): SearchQueryInput {
  return {
    filter: filter === undefined ? undefined : parseRql(filter),
    namespaces,
    ...parseSearchOptions(option),
  };
}

/** As the search service runs it: the fallback when the filter had too many candidates. */
async function rows(input: SearchQueryInput): Promise<SearchRow[]> {
  return runSearch(
    buildSearchQuery(input),
    async (q) => (await client.query(q.sql, q.params)).rows as SearchRow[],
  );
}

async function search(filter?: string, option?: string, namespaces?: string[]): Promise<string[]> {
  return (await rows(request(filter, option, namespaces))).map((r) => r.thing_id);
}

/** Follows cursors page by page and returns every id in the order received. */
async function pageThrough(filter: string | undefined, option: string, size: number): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 50; pages++) {
    const input = request(filter, `${option},size(${size})${cursor ? `,cursor(${cursor})` : ''}`);
    const page = toPage(await rows(input), input);
    expect(page.rows.length).toBeLessThanOrEqual(size);
    seen.push(...page.rows.map((r) => r.thing_id));
    if (!page.cursor) return seen;
    cursor = page.cursor;
  }
  throw new Error('paging did not end');
}

describe('search SQL on Postgres', () => {
  it.each<[string, string[]]>([
    ['eq(attributes/x,5)', ids(1, 10)],
    ['eq(attributes/x,"5")', ids(14)],
    ['eq(attributes/x,7)', ids(3)],
    ['eq(attributes/x,"7")', ids(2)],
    ['eq(attributes/x,true)', ids(13)],
    ['eq(attributes/x,"true")', []],
    ['eq(attributes/x,null)', ids(5, 15)],
    ['eq(attributes/x,1000)', ids(12)],
    ['eq(attributes/x,9)', ids(4)],
    ['eq(attributes/tags,"blue")', ids(1)],
    ['eq(attributes/nested/deep/v,1)', ids(2)],
    ['eq(attributes/big,12345678901234567890)', ids(16)],
    ['eq(attributes/big,12345678901234567891)', []],
    ['eq(attributes/s,"quote \\"double\\" and \'single\'")', ids(3)],
    ["eq(attributes/s,'back\\\\slash')", ids(4)],
    ['eq(attributes/s,"ümlaut 🚀")', ids(8)],
    ['eq(attributes/s,"line1\\nline2")', ids(12)],
    ['eq(attributes/it\'s,"yes")', ids(17)],
    ['eq(attributes/key with~0slash,1)', ids(17)],
    ['eq(attributes/a~1b,2)', ids(17)],
    ['eq(attributes/q"k\\,3)', ids(17)],
    ['gt(attributes/q"k\\,2)', ids(17)],
    ['like(attributes/s,"*\'single\'")', ids(3)],
    ['like(attributes/s,"*(*")', []],
    ['ne(attributes/x,5)', ids(2, 3, 4, 5, 7, 8, 11, 12, 13, 14, 15, 18, 20)],
    ['gt(attributes/x,5)', ids(3, 4, 12, 18, 20)],
    ['ge(attributes/x,5)', ids(1, 3, 4, 10, 12, 18, 20)],
    ['lt(attributes/x,0)', ids(11)],
    ['le(attributes/x,1)', ids(4, 11)],
    ['gt(attributes/x,"5")', ids(2)],
    ['gt(attributes/s,"b")', ids(3, 4, 8, 12, 19)],
    ['lt(attributes/s,"a")', ids(2, 7, 13)],
    ['in(attributes/x,7,"7",null)', ids(2, 3, 5, 15)],
    ['in(attributes/tags,"red","green")', ids(1, 12)],
    ['like(attributes/s,"a*")', ids(1, 5, 10, 11)],
    ['like(attributes/s,"a?c")', ids(10, 11)],
    ['like(attributes/s,"a.c")', ids(10)],
    ['like(attributes/s,"a*b?c")', ids(5)],
    ['like(attributes/s,"a*c")', ids(5, 10, 11)],
    ['like(attributes/s,"*\\"double\\"*")', ids(3)],
    ['like(attributes/s,"back\\\\*")', ids(4)],
    ['like(attributes/s,"line1?line2")', ids(12)],
    ['like(attributes/s,"*🚀")', ids(8)],
    ['like(attributes/s,"?mlaut*")', ids(8)],
    ['like(attributes/s,"x%y_z")', ids(19)],
    ['like(attributes/s,"x?y?z")', ids(19)],
    ['like(attributes/s,"*")', ids(1, 2, 3, 4, 5, 7, 8, 10, 11, 12, 13, 19)],
    ['like(attributes/x,"5")', ids(14)],
    ['like(attributes/tags,"gr*")', ids(12)],
    ['ilike(attributes/s,"alpha")', ids(1, 2, 13)],
    ['ilike(attributes/s,"ÜMLAUT*")', ids(8)],
    ['exists(attributes/x)', ids(1, 2, 3, 4, 5, 7, 8, 10, 11, 12, 13, 14, 15, 18, 20)],
    ['exists(features)', ids(1, 2, 3, 9, 18)],
    ['exists(features/*)', ids(1, 2, 3, 9, 18)],
    ['exists(features/lamp/properties/b)', ids(1, 2)],
    ['not(exists(attributes))', ids(9)],
    ['empty(attributes/x)', ids(5, 6, 7, 8, 9, 16, 17, 19)],
    ['empty(attributes/s)', ids(6, 7, 9, 14, 15, 16, 17, 18, 20)],
    ['empty(attributes)', ids(6, 9)],
    ['empty(features/*/properties/temp)', allBut(3, 9)],
    ['eq(features/lamp/properties/on,true)', ids(1, 18)],
    ['eq(features/*/properties/temp,30)', ids(9)],
    ['gt(features/*/properties/temp,20)', ids(3, 9)],
    ['lt(features/*/properties/temp,20)', ids(9)],
    ['in(features/*/properties/on,false,"x")', ids(2)],
    ['eq(definition,"com.c:def:1.0")', ids(14)],
    ['eq(thingId,"org.a:t01")', ids(1)],
    ['in(thingId,"org.a:t01",":t20",5)', ids(1, 20)],
    ['gt(thingId,"org.b:t10")', ids(11, 19)],
    ['like(thingId,"org.b:*")', ids(7, 8, 9, 10, 11, 19)],
    ['like(thingId,"*:t1?")', ids(10, 11, 12, 13, 14, 15, 16, 17, 18, 19)],
    ['eq(policyId,"org.a:other")', ids(18)],
    ['in(_namespace,"com.c","")', ids(12, 13, 14, 15, 16, 20)],
    ['eq(_namespace,"")', ids(20)],
    ['gt(_revision,17)', ids(18, 19, 20)],
    ['in(_revision,1,2.0,"3")', ids(1, 2)],
    ['ge(_created,"2024-01-18T00:00:00Z")', ids(18, 19, 20)],
    ['lt(_created,"2024-01-02")', ids(1)],
    ['gt(_created,"2024-01-19T01:00:00+02:00")', ids(19, 20)],
    ['like(_created,"2024-01-0*")', ids(1, 2, 3, 4, 5, 6, 7, 8, 9)],
    ['eq(_modified,"2024-03-01T10:00:00.123457Z")', ids(3, 5, 7, 9, 11, 13, 15, 17, 19)],
    ['lt(_modified,time:now)', ALL],
    ['gt(_modified,time:now)', []],
    ['lt(attributes/s,time:now)', ids(7)],
    ['and(exists(features/lamp),eq(attributes/n,1))', ids(2, 18)],
    ['or(eq(attributes/x,5),eq(attributes/s,"abc"),empty(attributes))', ids(1, 6, 9, 10, 11)],
    ['not(or(exists(attributes/x),exists(attributes/s)))', ids(6, 9, 16, 17)],
    ['not(ne(attributes/x,5))', allBut(2, 3, 4, 5, 7, 8, 11, 12, 13, 14, 15, 18, 20)],
  ])('%s', async (filter, expected) => {
    expect(await search(filter)).toEqual(expected);
  });

  it('restricts to namespaces', async () => {
    expect(await search(undefined, 'size(200)', ['org.b'])).toEqual(ids(7, 8, 9, 10, 11, 19));
    expect(await search('eq(attributes/x,5)', 'size(200)', ['org.a', 'com.c'])).toEqual(ids(1));
    expect(await search(undefined, 'size(200)', [''])).toEqual(ids(20));
    expect(await search(undefined, 'size(200)', [])).toEqual([]);
  });

  it('counts with the same conditions', async () => {
    const q = buildCountQuery({ filter: parseRql('exists(features)'), namespaces: ['org.a', 'org.b'] });
    expect((await client.query(q.sql, q.params)).rows).toEqual([{ count: '5' }]);
  });

  it('sorts by thingId by default and both ways', async () => {
    expect(await search()).toEqual(ALL);
    expect(await search(undefined, 'sort(-thingId),size(200)')).toEqual([...ALL].reverse());
  });

  it('sorts by a doc path, missing values like null, ties by thingId', async () => {
    const n = (id: string) => attributesOf(id).n as number | undefined;
    const asc = [...ALL].sort((a, b) => (n(a) ?? -Infinity) - (n(b) ?? -Infinity) || (a < b ? -1 : 1));
    expect(await search(undefined, 'sort(+attributes/n),size(200)')).toEqual(asc);
    const desc = [...ALL].sort((a, b) => (n(b) ?? -Infinity) - (n(a) ?? -Infinity) || (a < b ? -1 : 1));
    expect(await search(undefined, 'sort(-attributes/n),size(200)')).toEqual(desc);
    expect(desc.slice(-8)).toEqual(ids(5, 6, 9, 11, 13, 16, 17, 20));
  });

  it('sorts by mixed directions', async () => {
    const got = await search(undefined, 'sort(+_namespace,-_revision),size(200)');
    const ns = (id: string) => id.split(':')[0];
    const rev = (id: string) => FIXTURES.find((x) => x.id === id)!.revision;
    expect(got).toEqual([...ALL].sort((a, b) => (ns(a) < ns(b) ? -1 : ns(a) > ns(b) ? 1 : rev(b) - rev(a))));
  });

  it.each([
    [undefined, 'sort(+thingId)'],
    [undefined, 'sort(-thingId)'],
    [undefined, 'sort(+attributes/n)'],
    [undefined, 'sort(-attributes/n)'],
    [undefined, 'sort(-_modified)'],
    [undefined, 'sort(+_modified,-attributes/s)'],
    [undefined, 'sort(+_namespace,-attributes/n,+_created)'],
    ['exists(attributes/x)', 'sort(-attributes/x)'],
    ['ne(attributes/x,5)', 'sort(+policyId,-_revision)'],
  ])('pages through %s %s with cursors, every thing exactly once in order', async (filter, sort) => {
    const full = await search(filter, `${sort},size(200)`);
    for (const size of [1, 3, 7]) {
      expect(await pageThrough(filter, sort, size)).toEqual(full);
    }
  });

  it('pages with the deprecated limit option', async () => {
    const input = request(undefined, 'limit(5,5),sort(-thingId)');
    const page = toPage(await rows(input), input);
    expect(page.rows.map((r) => r.thing_id)).toEqual([...ALL].reverse().slice(5, 10));
    expect(page.nextPageOffset).toBe(10);
  });

  it('rejects a cursor from another filter or sort', async () => {
    const first = request('exists(attributes)', 'size(2)');
    const { cursor } = toPage(await rows(first), first);
    expect(cursor).toBeDefined();
    const next = await search('exists(attributes)', `size(2),cursor(${cursor})`);
    expect(next.slice(0, 2)).toEqual(['com.c:t13', 'com.c:t14']);
    for (const [filter, option] of [
      ['exists(features)', `size(2),cursor(${cursor})`],
      ['exists(attributes)', `sort(-thingId),cursor(${cursor})`],
      [undefined, `cursor(${cursor})`],
    ]) {
      const error = await search(filter, option).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('thing-search:search.option.invalid');
    }
  });

  it('returns the sort values needed to continue exactly, microseconds included', async () => {
    const [first] = await rows(
      request('eq(thingId,"org.a:t03")', 'sort(-_modified,+attributes/s,-_revision)'),
    );
    expect(first.sort_0).toBe(M2);
    expect(first.sort_1).toBe('"quote \\"double\\" and \'single\'"');
    expect(first.sort_2).toBe('3');
  });

  it('serves eq on an attribute from the GIN index', async () => {
    await client.query(`
      INSERT INTO things (thing_id, namespace, policy_id, doc, revision, created_at, modified_at)
      SELECT 'bulk:' || i, 'bulk', 'bulk:p',
             jsonb_build_object('attributes', jsonb_build_object('serial', i, 'kind', 'k' || (i % 50))),
             1, now(), now()
      FROM generate_series(1, 5000) AS i`);
    // VACUUM, not just ANALYZE: the planner costs GIN scans from the index metapage statistics,
    // which only VACUUM (autovacuum in production) refreshes.
    await client.query('VACUUM ANALYZE things');
    try {
      for (const filter of ['eq(attributes/serial,4242)', 'in(attributes/serial,1,2,3)']) {
        const q = buildSearchQuery(request(filter, 'size(25)'));
        const plan = (await client.query(`EXPLAIN ${q.sql}`, q.params)).rows.map(
          (r) => r['QUERY PLAN'] as string,
        );
        expect(plan.join('\n')).toContain('Bitmap Index Scan on things_doc_idx');
        expect(plan.join('\n')).not.toContain('Seq Scan');
      }
      expect(await search('eq(attributes/serial,4242)')).toEqual(['bulk:4242']);
    } finally {
      await client.query(`DELETE FROM things WHERE namespace = 'bulk'`);
    }
  });
});

describe('equality filters with many things', () => {
  beforeAll(async () => {
    // 10,000 things, 10 of each kind, each with its own policy that a reader reads whole (as the
    // platform's readers summary has it). Documents over 1 kB, as many twins are, get no statistics
    // from ANALYZE, so the planner guesses a containment matches 1 % of them.
    await client.query(`
      INSERT INTO policies (policy_id, namespace, doc, revision, created_at, modified_at)
      SELECT 'many:p' || i, 'many', '{}', 1, now(), now() FROM generate_series(1, 10000) AS i`);
    await client.query(`
      INSERT INTO policy_readers (policy_id, subject, reads_some, reads_all, revokes_some)
      SELECT 'many:p' || i, 'nginx:reader', true, true, false FROM generate_series(1, 10000) AS i`);
    await client.query(`
      INSERT INTO things (thing_id, namespace, policy_id, doc, revision, created_at, modified_at)
      SELECT 'many:' || lpad(i::text, 5, '0'), 'many', 'many:p' || i,
             jsonb_build_object('attributes', jsonb_build_object('kind', 'k' || (i % 1000), 'group', 'g' || (i % 2),
               'tenth', 't' || (i % 10),
               'note', repeat('x', 1100))),
             1, now(), now()
      FROM generate_series(1, 10000) AS i`);
    await client.query('VACUUM ANALYZE things');
  });
  afterAll(async () => {
    await client.query(`DELETE FROM things WHERE namespace = 'many'`);
    await client.query(`DELETE FROM policies WHERE namespace = 'many'`);
  });

  const kind7 = Array.from({ length: 10 }, (_, k) => `many:${String(k * 1000 + 7).padStart(5, '0')}`);

  it('answers from the GIN index, not by walking every thing in id order', async () => {
    const reader = { ...request('eq(attributes/kind,"k7")', 'size(25)'), readers: ['nginx:reader'] };
    const q = buildSearchQuery(reader);
    const plan = (await client.query(`EXPLAIN ${q.sql}`, q.params)).rows.map(
      (r) => r['QUERY PLAN'] as string,
    );
    expect(plan.join('\n')).toContain('Bitmap Index Scan on things_doc_idx');
    // The primary key only looks up the page's things by id; it is never walked in order.
    plan.forEach((line, i) => {
      if (line.includes('things_pkey')) expect(plan[i + 1]).toContain('Index Cond: (thing_id = ');
    });
    expect((await rows(reader)).map((r) => [r.thing_id, r.full_read])).toEqual(kind7.map((id) => [id, true]));
    expect(await search('eq(attributes/kind,"k7")', 'size(25)')).toEqual(kind7);
    expect(await search('and(eq(attributes/kind,"k7"),eq(attributes/group,"g1"))', 'size(25)')).toEqual(
      kind7.filter((id) => Number(id.slice(5)) % 2 === 1),
    );
  });

  it('checks readability only for the things the page needs, in sort order', async () => {
    // 1,000 candidates, a page of 25: the reader rows are read for the first 26, not for all.
    const reader = { ...request('eq(attributes/tenth,"t3")', 'size(25)'), readers: ['nginx:reader'] };
    const q = buildSearchQuery(reader);
    const plan = (await client.query(`EXPLAIN (ANALYZE) ${q.sql}`, q.params)).rows
      .map((r) => r['QUERY PLAN'] as string)
      .filter((line) => line.includes('on policy_readers'));
    expect(plan.length).toBeGreaterThan(0);
    for (const line of plan) expect(Number(/loops=(\d+)/.exec(line)?.[1])).toBeLessThanOrEqual(26);
    const expected = Array.from({ length: 26 }, (_, k) => `many:${String(k * 10 + 3).padStart(5, '0')}`);
    expect((await rows(reader)).map((r) => r.thing_id)).toEqual(expected);
  });

  it('finds readable matches beyond the candidates it sorts when those it took are all unreadable', async () => {
    // 30 things of kind k7b: the first 20 written are the other tenant's, the last 10 the reader's.
    await client.query(`
      INSERT INTO policy_readers (policy_id, subject, reads_some, reads_all, revokes_some)
      SELECT 'many:p' || i, 'nginx:other', true, true, false FROM generate_series(1, 10) AS i`);
    await client.query(`
      INSERT INTO things (thing_id, namespace, policy_id, doc, revision, created_at, modified_at)
      SELECT 'many:x' || lpad(i::text, 2, '0'), 'many', CASE WHEN i <= 20 THEN 'many:p' || i ELSE 'many:p' || (i + 100) END,
             '{"attributes":{"kind":"k7b"}}', 1, now(), now()
      FROM generate_series(1, 30) AS i`);
    await client.query(`DELETE FROM policy_readers WHERE subject = 'nginx:reader' AND policy_id = ANY($1)`, [
      Array.from({ length: 20 }, (_, k) => `many:p${k + 1}`),
    ]);
    try {
      const mine = Array.from({ length: 10 }, (_, k) => `many:x${k + 21}`);
      for (const candidatesMax of [5000, 5]) {
        const input = {
          ...request('eq(attributes/kind,"k7b")', 'size(25)'),
          readers: ['nginx:reader'],
          candidatesMax,
        };
        expect(toPage(await rows(input), input).rows.map((r) => r.thing_id)).toEqual(mine);
      }
      const none = { ...request('eq(attributes/kind,"k7-none")', 'size(25)'), readers: ['nginx:reader'] };
      expect(toPage(await rows(none), none)).toEqual({ rows: [] });
    } finally {
      await client.query(`DELETE FROM things WHERE thing_id LIKE 'many:x%'`);
      await client.query(`
        INSERT INTO policy_readers (policy_id, subject, reads_some, reads_all, revokes_some)
        SELECT 'many:p' || i, 'nginx:reader', true, true, false FROM generate_series(1, 20) AS i`);
    }
  });

  it('says which page rows are read whole and which only in part, sorting candidates or not', async () => {
    // Three things: read whole; readable but with a revoke somewhere; readable, not whole.
    await client.query(`
      INSERT INTO policies (policy_id, namespace, doc, revision, created_at, modified_at)
      SELECT 'many:p' || (20000 + i), 'many', '{}', 1, now(), now() FROM generate_series(1, 3) AS i`);
    await client.query(`
      INSERT INTO policy_readers (policy_id, subject, reads_some, reads_all, revokes_some)
      VALUES ('many:p20001', 'nginx:reader', true, true, false), ('many:p20002', 'nginx:reader', true, true, true),
             ('many:p20003', 'nginx:reader', true, false, false)`);
    await client.query(`
      INSERT INTO things (thing_id, namespace, policy_id, doc, revision, created_at, modified_at)
      SELECT 'many:y' || i, 'many', 'many:p' || (20000 + i), '{"attributes":{"kind":"k7c"}}', 1, now(), now()
      FROM generate_series(1, 3) AS i`);
    try {
      for (const candidatesMax of [5000, 1]) {
        const input = { ...request('eq(attributes/kind,"k7c")'), readers: ['nginx:reader'], candidatesMax };
        expect((await rows(input)).map((r) => [r.thing_id, r.full_read])).toEqual([
          ['many:y1', true],
          ['many:y2', false],
          ['many:y3', false],
        ]);
      }
    } finally {
      await client.query(`DELETE FROM things WHERE thing_id LIKE 'many:y%'`);
      await client.query(`DELETE FROM policy_readers WHERE policy_id LIKE 'many:p2000_'`);
      await client.query(`DELETE FROM policies WHERE policy_id LIKE 'many:p2000_'`);
    }
  });

  it('pages a filter with more candidates than it sorts in memory in the same order', async () => {
    const filter = 'eq(attributes/group,"g0")';
    const expected = Array.from({ length: 5000 }, (_, k) => `many:${String((k + 1) * 2).padStart(5, '0')}`);
    // The same answer from the candidates (a cap above the 5,000 matches) and from the fallback.
    for (const candidatesMax of [6000, 100]) {
      const first = { ...request(filter, 'size(200),sort(-thingId)'), candidatesMax };
      const q = buildSearchQuery(first);
      const got = await rows(first);
      expect(tooManyCandidates((await client.query(q.sql, q.params)).rows as SearchRow[], q)).toBe(
        candidatesMax === 100,
      );
      expect(got.slice(0, 200).map((r) => r.thing_id)).toEqual([...expected].reverse().slice(0, 200));
      const page = toPage(got, first);
      const next = { ...request(filter, `size(200),sort(-thingId),cursor(${page.cursor})`), candidatesMax };
      expect((await rows(next)).slice(0, 3).map((r) => r.thing_id)).toEqual(
        [...expected].reverse().slice(200, 203),
      );
    }
  });
});
