import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { parseRql } from './rql.parser.js';
import { parseSearchOptions } from './search-options.js';
import {
  buildCountQuery,
  buildSearchQuery,
  effectiveSort,
  nextCursor,
  SORT_CANDIDATES_MAX,
  toPage,
  tooManyCandidates,
  type SearchQueryInput,
  type SearchRow,
} from './search.query.js';

const COLUMNS =
  'SELECT t.thing_id, t.doc, t.revision, t.namespace, t.created_at, t.modified_at, t.metadata, t.policy_id';

function input(filter: string | undefined, option?: string, namespaces?: string[]): SearchQueryInput {
  return {
    filter: filter === undefined ? undefined : parseRql(filter),
    namespaces,
    ...parseSearchOptions(option),
  };
}

function row(thingId: string, ...sortValues: string[]): SearchRow {
  const r: Record<string, unknown> = { thing_id: thingId };
  sortValues.forEach((v, i) => (r[`sort_${i}`] = v));
  return r as unknown as SearchRow;
}

function cursorError(cursor: string, into: SearchQueryInput): DomainError {
  try {
    buildSearchQuery({ ...into, cursor });
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe('thing-search:search.option.invalid');
    return e as DomainError;
  }
  throw new Error('cursor accepted');
}

describe('buildSearchQuery', () => {
  it('sorts by thingId by default and fetches one row more than the page', () => {
    expect(buildSearchQuery(input(undefined))).toEqual({
      sql: `${COLUMNS}, t.thing_id AS sort_0 FROM things t ORDER BY t.thing_id ASC LIMIT $1`,
      params: [26],
    });
  });

  it('combines filter, namespaces, sort keys and the thingId tie-breaker', () => {
    const q = buildSearchQuery(
      input('gt(attributes/n,1)', 'sort(-attributes/n,+_created),size(5)', ['a', 'b']),
    );
    expect(q.sql).toBe(
      `${COLUMNS}, COALESCE(t.doc #> $4::text[], 'null'::jsonb)::text AS sort_0` +
        `, to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS sort_1` +
        ', t.thing_id AS sort_2' +
        ' FROM things t WHERE jsonb_path_exists(t.doc, $1::jsonpath, $2::jsonb) AND t.namespace = ANY($3::text[])' +
        " ORDER BY COALESCE(t.doc #> $4::text[], 'null'::jsonb) DESC, t.created_at ASC, t.thing_id ASC LIMIT $5",
    );
    expect(q.params).toEqual([
      '$."attributes"."n"[*] ? (@ > $v0)',
      '{"v0":1}',
      ['a', 'b'],
      ['attributes', 'n'],
      6,
    ]);
  });

  it('drops sort keys after thingId, which is unique', () => {
    const keys = effectiveSort(parseSearchOptions('sort(-_revision,-thingId,+attributes/x)').sort);
    expect(keys.map((k) => k.direction)).toEqual(['desc', 'desc']);
    expect(buildSearchQuery(input(undefined, 'sort(-thingId,+policyId)')).sql).toContain(
      'ORDER BY t.thing_id DESC LIMIT',
    );
  });

  it('pages by offset for the deprecated limit option', () => {
    expect(buildSearchQuery(input(undefined, 'limit(30,10)'))).toMatchObject({
      sql: expect.stringMatching(/ LIMIT \$1 OFFSET \$2$/),
      params: [11, 30],
    });
  });

  it('seeks with a row comparison when all keys go one way', () => {
    const first = input('exists(attributes)', 'sort(-_revision,-thingId),size(2)');
    const cursor = nextCursor(row('ns:b', '7', 'ns:b'), first);
    const q = buildSearchQuery({ ...first, cursor });
    expect(q.sql).toContain(' AND (t.revision, t.thing_id) < ($2::bigint, $3::text) ORDER BY');
    expect(q.params).toEqual(['$."attributes"', '7', 'ns:b', 3]);
  });

  it('seeks with an expanded condition for mixed directions', () => {
    const first = input(undefined, 'sort(+attributes/a,-_modified)');
    const cursor = nextCursor(row('ns:x', '"k"', '2025-01-02T03:04:05.123456Z', 'ns:x'), first);
    const q = buildSearchQuery({ ...first, cursor });
    const a = "COALESCE(t.doc #> $1::text[], 'null'::jsonb)";
    expect(q.sql).toContain(
      ` WHERE ((${a} > $2::jsonb) OR (${a} = $2::jsonb AND t.modified_at < $3::timestamptz)` +
        ` OR (${a} = $2::jsonb AND t.modified_at = $3::timestamptz AND t.thing_id > $4::text)) ORDER BY`,
    );
    expect(q.params).toEqual([['attributes', 'a'], '"k"', '2025-01-02T03:04:05.123456Z', 'ns:x', 26]);
  });

  it('accepts a cursor for the same search spelled differently', () => {
    const cursor = nextCursor(row('a:b', 'a:b'), input('and(eq(/attributes/x, "1"))', 'size(3)', ['n', 'm']));
    expect(() =>
      buildSearchQuery(input("and(eq(attributes/x,'1'))", `cursor(${cursor})`, ['m', 'n', 'm'])),
    ).not.toThrow();
  });

  it('rejects a cursor of another filter, sort or namespaces', () => {
    const base = input('eq(attributes/x,1)', 'sort(+attributes/y)', ['n']);
    const cursor = nextCursor(row('n:a', '1', 'n:a'), base);
    for (const other of [
      input('eq(attributes/x,2)', 'sort(+attributes/y)', ['n']),
      input(undefined, 'sort(+attributes/y)', ['n']),
      input('eq(attributes/x,1)', 'sort(-attributes/y)', ['n']),
      input('eq(attributes/x,1)', undefined, ['n']),
      input('eq(attributes/x,1)', 'sort(+attributes/y)', ['n', 'o']),
      input('eq(attributes/x,1)', 'sort(+attributes/y)'),
    ]) {
      expect(cursorError(cursor, other).message).toContain('does not belong to this search');
    }
  });

  it('rejects cursors that do not decode or hold values Postgres cannot cast', () => {
    const q = input(undefined, 'sort(+_revision,-_created,+attributes/a)');
    const forge = (k: unknown) => {
      const h = JSON.parse(
        Buffer.from(
          nextCursor(row('x', '1', '2025-01-01T00:00:00.000000Z', '1', 'x'), q),
          'base64url',
        ).toString(),
      ).h;
      return Buffer.from(JSON.stringify({ h, k })).toString('base64url');
    };
    const good = ['1', '2025-01-01T00:00:00.000000Z', '{"a":[1,"x"]}', 'x:y'];
    expect(() => buildSearchQuery({ ...q, cursor: forge(good) })).not.toThrow();
    for (const cursor of [
      'not-a-cursor',
      Buffer.from('[1,2]').toString('base64url'),
      Buffer.from('{"h":"x"}').toString('base64url'),
      forge(good.slice(1)),
      forge(['1.5', ...good.slice(1)]),
      forge(['99999999999999999999', ...good.slice(1)]),
      forge(['1', 'yesterday', ...good.slice(2)]),
      forge(['1', good[1], '{bad json', good[3]]),
      forge(['1', good[1], '"\\u0000"', good[3]]),
      forge(['1', good[1], '1e99999', good[3]]),
      forge(['1', good[1], '"\\ud800"', good[3]]),
      forge([1, ...good.slice(1)]),
      forge([...good.slice(0, 3), 'a\u0000b']),
    ]) {
      expect(cursorError(cursor, q).message).toContain('The cursor is invalid');
    }
  });

  it('rejects a size out of range and cursor with offset', () => {
    expect(() => buildSearchQuery({ sort: [], size: 0 })).toThrow(DomainError);
    expect(() => buildSearchQuery({ sort: [], size: 201 })).toThrow(DomainError);
    expect(() => buildSearchQuery({ sort: [], size: 10, cursor: 'abc', offset: 10 })).toThrow(DomainError);
  });
});

describe('toPage', () => {
  it('returns a cursor only when more rows follow', () => {
    const q = input(undefined, 'size(2)');
    expect(toPage([row('a', 'a'), row('b', 'b')], q)).toEqual({ rows: [row('a', 'a'), row('b', 'b')] });
    const page = toPage([row('a', 'a'), row('b', 'b'), row('c', 'c')], q);
    expect(page.rows.map((r) => r.thing_id)).toEqual(['a', 'b']);
    expect(page.cursor).toBe(nextCursor(row('b', 'b'), q));
  });

  it('returns the next offset for limit paging', () => {
    const page = toPage([row('a', 'a'), row('b', 'b')], input(undefined, 'limit(4,1)'));
    expect(page).toEqual({ rows: [row('a', 'a')], nextPageOffset: 5 });
  });
});

describe('buildCountQuery', () => {
  it('counts with the same conditions', () => {
    expect(buildCountQuery(input('eq(thingId,"a:b")', undefined, ['a']))).toEqual({
      sql: 'SELECT count(*)::bigint AS count FROM things t WHERE t.thing_id = $1::text AND t.namespace = ANY($2::text[])',
      params: ['a:b', ['a']],
    });
    expect(buildCountQuery({}).sql).toBe('SELECT count(*)::bigint AS count FROM things t');
  });
});

describe('equality filters sort their candidates', () => {
  it.each([
    ['eq(attributes/building,"B1")', true],
    ['in(attributes/building,"B1","B2")', true],
    ['and(gt(attributes/floor,2),eq(attributes/building,"B1"))', true],
    ['or(eq(attributes/building,"B1"),eq(attributes/building,"B2"))', false],
    ['eq(features/*/properties/on,true)', false],
    ['eq(thingId,"a:b")', false],
    ['gt(attributes/floor,2)', false],
    ['not(eq(attributes/building,"B1"))', false],
  ])('%s: candidates first: %s', (filter, candidates) => {
    const q = buildSearchQuery(input(filter));
    expect(q.sql.startsWith('WITH c AS MATERIALIZED')).toBe(candidates);
    expect(q.fallback !== undefined).toBe(candidates);
    // Only the candidate form is prepared: the ordered one's plan depends on how common the value is.
    expect(q.prepare === true).toBe(candidates);
    if (q.fallback) {
      expect(q.candidatesMax).toBe(SORT_CANDIDATES_MAX);
      expect(q.fallback.sql).not.toContain('WITH c');
      expect(q.fallback.prepare).toBeUndefined();
    }
  });

  it('gives searches of one shape the same text whatever their values, so one statement serves them', () => {
    const a = buildSearchQuery({
      ...input('and(eq(attributes/building,"B1"),gt(attributes/floor,2))'),
      size: 10,
    });
    const b = buildSearchQuery({
      ...input('and(eq(attributes/building,"B22"),gt(attributes/floor,7))'),
      size: 50,
    });
    expect(b.sql).toBe(a.sql);
    expect(b.params).not.toEqual(a.params);
  });

  it('falls back only when the candidates reached the cap', () => {
    const q = buildSearchQuery({ ...input('eq(attributes/building,"B1")'), candidatesMax: 3 });
    const rowsWith = (candidates: string) => [{ ...row('a:1', 'a:1'), candidates }];
    expect(tooManyCandidates(rowsWith('2'), q)).toBe(false);
    expect(tooManyCandidates(rowsWith('3'), q)).toBe(true);
    expect(tooManyCandidates([], q)).toBe(false);
    const ordered = buildSearchQuery(input('gt(attributes/floor,2)'));
    expect(tooManyCandidates(rowsWith('9'), ordered)).toBe(false);
  });
});
