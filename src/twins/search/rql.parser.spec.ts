import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { formatRql, parseRql, type RqlNode } from './rql.parser.js';

const attr = (...path: string[]) => ({ kind: 'doc', path: ['attributes', ...path], wildcard: false });

function compare(filter: string) {
  const node = parseRql(filter);
  if (node.type !== 'compare') throw new Error(`not a comparison: ${filter}`);
  return node;
}

function errorOf(filter: string): DomainError {
  try {
    parseRql(filter);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return e as DomainError;
  }
  throw new Error(`parsed: ${filter}`);
}

describe('parseRql', () => {
  it.each(['eq', 'ne', 'gt', 'ge', 'lt', 'le'])('parses %s(property,value)', (op) => {
    expect(parseRql(`${op}(attributes/x,1)`)).toEqual({
      type: 'compare',
      op,
      property: { field: attr('x'), pos: op.length + 1 },
      value: { kind: 'number', value: 1, raw: '1' },
    });
  });

  it('parses like and ilike with string patterns', () => {
    expect(compare('like(thingId,"a*b?")').value).toEqual({ kind: 'string', value: 'a*b?' });
    expect(compare("ilike(attributes/n,'A*')").op).toBe('ilike');
  });

  it.each([
    ['0', 0],
    ['-1', -1],
    ['3.25', 3.25],
    ['-0.5', -0.5],
    ['1e3', 1000],
    ['2.5E-2', 0.025],
    ['12345678901234567890123', 12345678901234567890123],
  ])('parses the number %s', (raw, value) => {
    expect(compare(`eq(attributes/x,${raw})`).value).toEqual({ kind: 'number', value, raw });
  });

  it.each([
    ['"plain"', 'plain'],
    ["'single'", 'single'],
    ['"with \\"quotes\\" and \\\\ backslash"', 'with "quotes" and \\ backslash'],
    ["'it\\'s'", "it's"],
    ['"tab\\tnl\\n\\u00e4\\/"', 'tab\tnl\n\u00e4/'],
    ['"a,b)c(d"', 'a,b)c(d'],
    ['"emoji 🚀 ümlaut"', 'emoji 🚀 ümlaut'],
    ['""', ''],
    ['"single \' inside double"', "single ' inside double"],
  ])('parses the string %s', (literal, value) => {
    expect(compare(`eq(attributes/x,${literal})`).value).toEqual({ kind: 'string', value });
  });

  it('parses true, false, null and the time placeholders', () => {
    expect(compare('eq(attributes/x,true)').value).toEqual({ kind: 'boolean', value: true });
    expect(compare('eq(attributes/x,false)').value).toEqual({ kind: 'boolean', value: false });
    expect(compare('eq(attributes/x,null)').value).toEqual({ kind: 'null' });
    expect(compare('lt(_created,time:now)').value).toEqual({ kind: 'placeholder', name: 'time:now' });
    expect(compare('lt(attributes/t,time:now_epoch_millis)').value).toEqual({
      kind: 'placeholder',
      name: 'time:now_epoch_millis',
    });
  });

  it('parses in, exists, empty and the logical operators', () => {
    const node = parseRql('and(in(thingId,"a:b","c:d"),or(exists(features/f),not(empty(attributes/x))))');
    expect(formatRql(node)).toBe(
      'and(in(thingId,"a:b","c:d"),or(exists(features/f),not(empty(attributes/x))))',
    );
    expect(node).toMatchObject({ type: 'and', children: [{ type: 'in', values: [{}, {}] }, { type: 'or' }] });
  });

  it('accepts and/or with a single query', () => {
    expect(parseRql('or(exists(attributes))')).toMatchObject({ type: 'or', children: [{ type: 'exists' }] });
  });

  it('accepts spaces after commas', () => {
    const node = parseRql('and(eq(attributes/a, 1),  in(attributes/b, "x",  "y"))');
    expect(formatRql(node)).toBe('and(eq(attributes/a,1),in(attributes/b,"x","y"))');
  });

  it('resolves properties: leading slash, system fields, escapes, feature wildcard', () => {
    expect(compare('eq(/attributes/a/b,1)').property.field).toEqual(attr('a', 'b'));
    expect(compare('eq(attributes/a~1b~0c,1)').property.field).toEqual(attr('a/b~c'));
    expect(compare("eq(attributes/it's a key,1)").property.field).toEqual(attr("it's a key"));
    for (const name of ['thingId', 'policyId', '_namespace', '_revision', '_modified']) {
      expect(compare(`ne(${name},"2024-01-01")`).property.field).toEqual({ kind: 'column', name });
    }
    expect(compare('eq(features/*/properties/x,1)').property.field).toEqual({
      kind: 'doc',
      path: ['features', '*', 'properties', 'x'],
      wildcard: true,
    });
    expect(compare('eq(definition,"a:b:1")').property.field).toEqual({
      kind: 'doc',
      path: ['definition'],
      wildcard: false,
    });
  });

  it("reads Ditto's event placeholders as placeholder properties, not as thing fields", () => {
    expect(compare('eq(topic:action,"created")').property).toEqual({
      field: { kind: 'placeholder', name: 'topic:action' },
      pos: 3,
    });
    const node = parseRql("and(in(topic:namespace,'a','b'),exists(resource:path),like(topic:full,'a/*'))");
    expect(formatRql(node)).toBe(
      'and(in(topic:namespace,"a","b"),exists(resource:path),like(topic:full,"a/*"))',
    );
    // Only in property positions, and only the names Ditto defines.
    expect(compare('eq(attributes/x,"topic:action")').value).toEqual({
      kind: 'string',
      value: 'topic:action',
    });
    expect(errorOf('eq(topic:bogus,1)').message).toMatch(/position 3: unknown property root 'topic:bogus'/);
    expect(errorOf('eq(topic:action/x,1)').message).toMatch(/unknown property root 'topic:action'/);
    expect(errorOf('eq(attributes/x,topic:action)').message).toMatch(/invalid value 'topic:action'/);
  });

  it('formats back to a canonical filter', () => {
    const node = parseRql("and(eq(/attributes/x,'it\\'s'), gt(_revision,-1.5e3))");
    expect(formatRql(node)).toBe('and(eq(attributes/x,"it\'s"),gt(_revision,-1.5e3))');
    expect(parseRql(formatRql(node))).toEqual(parseRql('and(eq(attributes/x,"it\'s"),gt(_revision,-1.5e3))'));
  });

  it.each<[string, number, string]>([
    ['', 0, 'empty'],
    ['   ', 0, 'empty'],
    ['eq', 2, "expected '('"],
    ['(eq(a,1))', 0, 'expected an operator'],
    ['foo(attributes/x,1)', 0, "unknown operator 'foo'"],
    ['EQ(attributes/x,1)', 0, "unknown operator 'EQ'"],
    ['eq(attributes/x,1', 17, "expected ')' but found the end"],
    ['eq(attributes/x,1))', 18, 'after the end'],
    ['eq(attributes/x,1) ', 18, 'after the end'],
    ['eq(attributes/x)', 15, "expected ','"],
    ['eq(attributes/x,1,2)', 17, "expected ')'"],
    ['eq(,1)', 3, 'expected a property'],
    ['eq(attributes/x,)', 16, 'expected a value'],
    ['eq(attributes/x,abc)', 16, "invalid value 'abc'"],
    ['eq(attributes/x,01)', 16, "invalid value '01'"],
    ['eq(attributes/x,1.)', 16, "invalid value '1.'"],
    ['eq(attributes/x,TRUE)', 16, "invalid value 'TRUE'"],
    ['eq(attributes/x,1e999)', 16, 'out of range'],
    ['eq(attributes/x,"abc)', 16, 'unterminated string'],
    ['eq(attributes/x,\'abc")', 16, 'unterminated string'],
    ['eq(attributes/x,"a\\qb")', 18, "invalid escape sequence '\\q'"],
    ['eq(attributes/x,"a\\u12")', 18, 'invalid escape sequence'],
    ['eq(attributes/x,"a\\u0000")', 16, 'NUL'],
    ['eq(attributes/x,"\\ud800")', 16, 'surrogate'],
    ['eq(attributes/x,"a"b)', 19, "expected ')' but found 'b'"],
    ['eq( attributes/x,1)', 3, "unexpected ' '"],
    ['eq(attributes/x ,1)', 15, "unexpected ' '"],
    ['eq(attributes/a\tb,1)', 15, "unexpected '\t'"],
    ['eq(attributes/a(b,1)', 15, "unexpected '('"],
    ['eq("attributes/x",1)', 3, `unexpected '"'`],
    ['eq(attributes//x,1)', 14, 'empty segment'],
    ['eq(attributes/x/,1)', 16, 'empty segment'],
    ['eq(/,1)', 3, 'the property is empty'],
    ['eq(attributes/a~2,1)', 15, "invalid escape '~'"],
    ['eq(foo/x,1)', 3, "unknown property root 'foo'"],
    ['eq(_foo,1)', 3, "unknown system field '_foo'"],
    ['eq(thingId/x,1)', 11, "'thingId' has no sub-properties"],
    ['eq(definition/x,1)', 14, "'definition' has no sub-properties"],
    ['eq(attributes/*,1)', 14, "'*' is only allowed as the feature id"],
    ['eq(features/f/properties/*,1)', 25, "'*' is only allowed as the feature id"],
    ['eq(*,1)', 3, "unknown property root '*'"],
    ['like(attributes/x,5)', 18, "'like' needs a quoted string pattern"],
    ['ilike(thingId,time:now)', 14, "'ilike' needs a quoted string pattern"],
    ['gt(_created,"yesterday")', 12, 'ISO-8601'],
    ['in(_modified,"2024-01-01","2024-02-30")', 26, 'ISO-8601'],
    ['in(attributes/x)', 15, "expected ','"],
    ['and()', 4, 'expected an operator'],
    ['and(eq(attributes/x,1),)', 23, 'expected an operator'],
    ['not(eq(attributes/x,1),eq(attributes/y,2))', 22, "expected ')'"],
    ['exists(attributes/x,1)', 19, "expected ')'"],
  ])('rejects %j at position %i', (filter, pos, message) => {
    const error = errorOf(filter);
    expect(error.status).toBe(400);
    expect(error.code).toBe('rql.expression.invalid');
    expect(error.message).toContain(message);
    if (filter.trim() !== '') expect(error.message).toContain(`at position ${pos}:`);
  });

  it('limits the nesting depth, so recursion never overflows the stack', () => {
    const error = errorOf('not('.repeat(70) + 'exists(attributes)' + ')'.repeat(70));
    expect(error.message).toContain('at position 256: the query is nested deeper than 64 levels');
    expect(() => parseRql('not('.repeat(100000))).toThrow(DomainError);
    expect(parseRql('not('.repeat(63) + 'exists(attributes)' + ')'.repeat(63)).type).toBe('not');
  });

  it('keeps ASTs plain data', () => {
    const node: RqlNode = parseRql('exists(features/*)');
    expect(JSON.parse(JSON.stringify(node))).toEqual(node);
  });
});
