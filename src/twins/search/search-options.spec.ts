import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { parseNamespaces, parseSearchOptions } from './search-options.js';

const thingId = { kind: 'column', name: 'thingId' };
const attr = (key: string) => ({ kind: 'doc', path: ['attributes', key], wildcard: false });

function errorOf(run: () => unknown): DomainError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return e as DomainError;
  }
  throw new Error('no error');
}

describe('parseSearchOptions', () => {
  it('defaults to size 25 and no explicit sort', () => {
    expect(parseSearchOptions()).toEqual({ sort: [], size: 25 });
    expect(parseSearchOptions('')).toEqual({ sort: [], size: 25 });
  });

  it('parses sort, size and cursor in any order', () => {
    expect(parseSearchOptions('sort(+thingId,-attributes/x),size(10),cursor(abc-_9)')).toEqual({
      sort: [
        { field: thingId, direction: 'asc' },
        { field: attr('x'), direction: 'desc' },
      ],
      size: 10,
      cursor: 'abc-_9',
    });
    expect(parseSearchOptions('cursor(Zz),size(200), sort(-_modified)')).toEqual({
      sort: [{ field: { kind: 'column', name: '_modified' }, direction: 'desc' }],
      size: 200,
      cursor: 'Zz',
    });
  });

  it('reads a space as + (an unencoded + in a query string) and allows spaces after commas', () => {
    expect(parseSearchOptions('sort( thingId, -attributes/x, attributes/y)').sort).toEqual([
      { field: thingId, direction: 'asc' },
      { field: attr('x'), direction: 'desc' },
      { field: attr('y'), direction: 'asc' },
    ]);
  });

  it('supports the deprecated limit(offset,count)', () => {
    expect(parseSearchOptions('limit(40,20),sort(-thingId)')).toEqual({
      sort: [{ field: thingId, direction: 'desc' }],
      size: 20,
      offset: 40,
    });
    expect(parseSearchOptions('limit(0, 200)')).toMatchObject({ size: 200, offset: 0 });
  });

  it.each<[string, number, string]>([
    ['size(0)', 5, 'from 1 to 200'],
    ['size(201)', 5, 'from 1 to 200'],
    ['size(-1)', 5, 'from 1 to 200'],
    ['size(1.5)', 5, 'from 1 to 200'],
    ['size()', 5, 'from 1 to 200'],
    ['size(10),size(20)', 9, "'size' given more than once"],
    ['size(10', 4, "missing ')'"],
    ['size(10)cursor(x)', 8, "expected ','"],
    ['size(10),', 9, "expected an option after ','"],
    ['page(1)', 0, "unknown option 'page'"],
    ['sort', 0, 'expected sort'],
    ['(size(1))', 0, 'expected sort'],
    ['sort(thingId)', 5, 'start with + or -'],
    ['sort()', 5, 'start with + or -'],
    ['sort(+)', 6, 'the property is empty'],
    ['sort(+thingId,)', 14, 'start with + or -'],
    ['sort(+foo)', 6, "unknown property root 'foo'"],
    ['sort(+attributes//x)', 17, 'empty segment'],
    ['sort(+features/*/properties/x)', 15, "'*' (any feature) is not allowed here"],
    ['sort(+_x)', 6, "unknown system field '_x'"],
    ['sort(+thingId,-thingId)', 15, 'sorted twice'],
    ['sort(+attributes/x,-/attributes/x)', 20, 'sorted twice'],
    ['cursor()', 7, 'not one this server returned'],
    ['cursor(a+b)', 7, 'not one this server returned'],
    ['limit(1)', 6, 'needs an offset and a count'],
    ['limit(x,1)', 6, "invalid offset 'x'"],
    ['limit(0,500)', 8, 'count must be a whole number from 1 to 200'],
    ['limit(0,0)', 8, 'count must be'],
  ])('rejects %j at position %i', (option, pos, message) => {
    const error = errorOf(() => parseSearchOptions(option));
    expect(error.status).toBe(400);
    expect(error.code).toBe('thing-search:search.option.invalid');
    expect(error.message).toContain(`at position ${pos}: `);
    expect(error.message).toContain(message);
  });

  it.each(['limit(0,10),cursor(abc)', 'size(5),limit(0,10)'])(
    'rejects limit combined with size or cursor: %s',
    (o) => {
      const error = errorOf(() => parseSearchOptions(o));
      expect(error.code).toBe('thing-search:search.option.invalid');
      expect(error.message).toContain("'limit' cannot be combined");
    },
  );
});

describe('parseNamespaces', () => {
  it('returns undefined when absent', () => {
    expect(parseNamespaces(undefined)).toBeUndefined();
  });

  it('splits, deduplicates and allows the empty namespace', () => {
    expect(parseNamespaces('org.eclipse,com-acme.x_1, org.eclipse')).toEqual(['org.eclipse', 'com-acme.x_1']);
    expect(parseNamespaces('')).toEqual(['']);
    expect(parseNamespaces('a,,b')).toEqual(['a', '', 'b']);
  });

  it.each(['1abc', 'a..b', 'a.', 'a b', 'org/x', 'a:b', '.a'])('rejects %j', (ns) => {
    const error = errorOf(() => parseNamespaces(`ok,${ns}`));
    expect(error.code).toBe('thing-search:search.namespaces.invalid');
    expect(error.message).toContain(`'${ns.trimStart()}'`);
  });
});
