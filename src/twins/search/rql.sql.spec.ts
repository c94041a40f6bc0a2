import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { parseRql, type RqlNode } from './rql.parser.js';
import { compileRql, jsonPath, likeToRegex, likeToSqlPattern, SqlParams } from './rql.sql.js';

const NOW = new Date('2025-06-01T12:00:00.000Z');

function compile(filter: string, offset = 0) {
  const params = new SqlParams(offset);
  const sql = compileRql(parseRql(filter), params, NOW);
  return { sql, params: params.values };
}

describe('SqlParams', () => {
  it('numbers placeholders from the offset', () => {
    const params = new SqlParams(3);
    expect([params.add('a'), params.add(2)]).toEqual(['$4', '$5']);
    expect(params.values).toEqual(['a', 2]);
    expect(new SqlParams().add(null)).toBe('$1');
  });
});

describe('compileRql', () => {
  it('compiles eq on a doc path to GIN-friendly containment, with the array form', () => {
    expect(compile('eq(attributes/x,"v")')).toEqual({
      sql: '(t.doc @> $1::jsonb OR t.doc @> $2::jsonb)',
      params: ['{"attributes":{"x":"v"}}', '{"attributes":{"x":["v"]}}'],
    });
  });

  it('compiles in to containment per value and keeps number literals exact', () => {
    expect(compile('in(attributes/a/b,1,12345678901234567890.5,null)', 2)).toEqual({
      sql:
        '(t.doc @> $3::jsonb OR t.doc @> $4::jsonb OR t.doc @> $5::jsonb OR t.doc @> $6::jsonb' +
        ' OR t.doc @> $7::jsonb OR t.doc @> $8::jsonb)',
      params: [
        '{"attributes":{"a":{"b":1}}}',
        '{"attributes":{"a":{"b":[1]}}}',
        '{"attributes":{"a":{"b":12345678901234567890.5}}}',
        '{"attributes":{"a":{"b":[12345678901234567890.5]}}}',
        '{"attributes":{"a":{"b":null}}}',
        '{"attributes":{"a":{"b":[null]}}}',
      ],
    });
  });

  it('compiles ne as the negation of eq', () => {
    expect(compile('ne(attributes/x,true)').sql).toBe(
      '(jsonb_path_exists(t.doc, $1::jsonpath) AND NOT (t.doc @> $2::jsonb OR t.doc @> $3::jsonb))',
    );
  });

  it('compiles range operators to a lax jsonpath with the value in vars', () => {
    expect(compile('ge(attributes/x,5)')).toEqual({
      sql: 'jsonb_path_exists(t.doc, $1::jsonpath, $2::jsonb)',
      params: ['$."attributes"."x"[*] ? (@ >= $v0)', '{"v0":5}'],
    });
    expect(compile('lt(features/f/properties/t,"b")').params).toEqual([
      '$."features"."f"."properties"."t"[*] ? (@ < $v0)',
      '{"v0":"b"}',
    ]);
  });

  it('compiles wildcard eq and in to jsonpath', () => {
    expect(compile('in(features/*/properties/on,true,"yes")').params).toEqual([
      '$."features".*."properties"."on"[*] ? (@ == $v0 || @ == $v1)',
      '{"v0":true,"v1":"yes"}',
    ]);
  });

  it('compiles like and ilike to an escaped, anchored like_regex', () => {
    expect(compile('like(attributes/x,"a*b?.c")')).toEqual({
      sql: 'jsonb_path_exists(t.doc, $1::jsonpath)',
      params: ['$."attributes"."x"[*] ? (@ like_regex "^a.*b.\\\\.c$" flag "s")'],
    });
    expect(compile("ilike(attributes/x,'Q\"\\\\*')").params).toEqual([
      '$."attributes"."x"[*] ? (@ like_regex "^Q\\"\\\\\\\\.*$" flag "is")',
    ]);
  });

  it('compiles exists and empty', () => {
    expect(compile('exists(features/*)')).toEqual({
      sql: 'jsonb_path_exists(t.doc, $1::jsonpath)',
      params: ['$."features".*'],
    });
    expect(compile('empty(attributes/x)')).toEqual({
      sql: `(jsonb_path_query_array(t.doc, $1::jsonpath) <@ '[null, [], {}, ""]'::jsonb)`,
      params: ['$."attributes"."x"'],
    });
  });

  it('maps system fields to columns', () => {
    expect(compile('eq(thingId,"a:b")')).toEqual({ sql: 't.thing_id = $1::text', params: ['a:b'] });
    expect(compile('gt(_revision,3)')).toEqual({ sql: 't.revision > $1::numeric', params: ['3'] });
    expect(compile('like(_namespace,"org.*_x%")')).toEqual({
      sql: 't.namespace LIKE $1::text',
      params: ['org.%\\_x\\%'],
    });
    expect(compile('ilike(policyId,"A?")').sql).toBe('t.policy_id ILIKE $1::text');
    expect(compile('ge(_created,"2024-05-01")')).toEqual({
      sql: 't.created_at >= $1::timestamptz',
      params: ['2024-05-01T00:00:00Z'],
    });
    expect(compile('lt(_modified,time:now)')).toEqual({ sql: 't.modified_at < now()', params: [] });
    expect(compile('in(thingId,"a:b",5,"c:d")')).toEqual({
      sql: '(t.thing_id = $1::text OR FALSE OR t.thing_id = $2::text)',
      params: ['a:b', 'c:d'],
    });
    expect(compile('exists(policyId)').sql).toBe('TRUE');
  });

  it('never converts types on columns', () => {
    expect(compile('eq(thingId,5)').sql).toBe('FALSE');
    expect(compile('ne(thingId,5)').sql).toBe('(TRUE AND NOT FALSE)');
    expect(compile('eq(_revision,"5")').sql).toBe('FALSE');
    expect(compile('gt(_created,5)').sql).toBe('FALSE');
  });

  it('resolves time placeholders against JSON values at compile time', () => {
    expect(compile('lt(attributes/at,time:now)').params[1]).toBe('{"v0":"2025-06-01T12:00:00.000Z"}');
    expect(compile('lt(attributes/ms,time:now_epoch_millis)').params[1]).toBe(`{"v0":${NOW.getTime()}}`);
  });

  it('combines with and, or, not', () => {
    expect(compile('and(exists(attributes/a),or(eq(thingId,"x:y"),not(exists(attributes/b))))').sql).toBe(
      '(jsonb_path_exists(t.doc, $1::jsonpath) AND (t.thing_id = $2::text OR NOT jsonb_path_exists(t.doc, $3::jsonpath)))',
    );
  });

  it('keeps every value out of the SQL text: the SQL is the same whatever the value', () => {
    const nasty = ["'; DROP TABLE things; --", 'x"y\\z', '$$ $1', 'ü🚀', 'a*b?c', '1e5', ''];
    const templates = [
      'eq(attributes/k,%)',
      'ne(thingId,%)',
      'gt(features/*/properties/p,%)',
      'like(attributes/k,%)',
      'ilike(_namespace,%)',
      'in(attributes/k,%,%)',
      'le(_modified,%)',
    ];
    for (const template of templates) {
      const plain = compile(template.replaceAll('%', '"2024-01-01"'));
      const values = template.includes('_modified') ? ['2023-12-31T23:59:59.999+01:00'] : nasty;
      for (const value of values) {
        const { sql, params } = compile(template.replaceAll('%', JSON.stringify(value)));
        expect(sql).toBe(plain.sql);
        expect(params.length).toBe(plain.params.length);
      }
    }
    const keys = compile(`eq(attributes/x';DROP--"y/~1x,1)`);
    expect(keys.sql).toBe('(t.doc @> $1::jsonb OR t.doc @> $2::jsonb)');
    expect(keys.params[0]).toBe(`{"attributes":{"x';DROP--\\"y":{"/x":1}}}`);
  });

  it.each([
    ['eq(topic:action,"created")', 3],
    ['and(exists(attributes/a),not(in(resource:path,"/")))', 32],
    ['or(exists(topic:namespace))', 10],
    ['ne(topic:criterion,"events")', 3],
  ])('refuses the event placeholder in %s: a search has no event', (filter, pos) => {
    let error: unknown;
    try {
      compile(filter);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ status: 400, code: 'rql.expression.invalid' });
    expect((error as DomainError).message).toMatch(
      new RegExp(`position ${pos}: the placeholder '[a-z]+:[a-zA-Z]+'`),
    );
  });

  it('rejects a hand-built bad timestamp as a client error', () => {
    const node: RqlNode = {
      type: 'compare',
      op: 'gt',
      property: { field: { kind: 'column', name: '_created' }, pos: 0 },
      value: { kind: 'string', value: 'soon' },
    };
    expect(() => compileRql(node, new SqlParams())).toThrow(DomainError);
  });
});

describe('jsonPath', () => {
  it('JSON-quotes every key', () => {
    expect(jsonPath(['attributes', 'a"b', 'c\\d', 'sp ace', 'ü'])).toBe(
      '$."attributes"."a\\"b"."c\\\\d"."sp ace"."ü"',
    );
    expect(jsonPath(['features', '*'])).toBe('$."features".*');
  });
});

describe('like translation', () => {
  it.each([
    ['abc', '^abc$'],
    ['*', '^.*$'],
    ['a**b', '^a.*b$'],
    ['?x?', '^.x.$'],
    ['a.b+c(d)[e]{f}|g^h$i\\j', '^a\\.b\\+c\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\\\j$'],
    ['ümlaut-🚀', '^ümlaut-🚀$'],
  ])('turns %s into the regex %s', (pattern, regex) => {
    expect(likeToRegex(pattern)).toBe(regex);
  });

  it.each([
    ['a*b?', 'a%b_'],
    ['100%_\\', '100\\%\\_\\\\'],
  ])('turns %s into the LIKE pattern %s', (pattern, like) => {
    expect(likeToSqlPattern(pattern)).toBe(like);
  });
});
