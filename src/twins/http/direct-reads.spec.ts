import { describe, expect, it } from '@jest/globals';
import { directReadOf } from './direct-reads.js';

const THING = '/api/2/things/org.example:lamp-1';
const SEARCH = '/api/2/search/things';

describe('directReadOf: which reads skip the routes', () => {
  it('takes the plain GET of a whole thing, with or without fields', () => {
    expect(directReadOf('GET', THING, {}, {})).toEqual({ kind: 'thing', route: '/api/2/things/:thingId' });
    expect(directReadOf('GET', THING, { fields: 'attributes' }, {})).toEqual({
      kind: 'thing',
      route: '/api/2/things/:thingId',
      fields: 'attributes',
    });
  });

  it('takes a search with any of Ditto four parameters', () => {
    const query = { filter: 'eq(attributes/a,1)', option: 'size(2)', fields: 'thingId', namespaces: 'org' };
    expect(directReadOf('GET', SEARCH, query, {})).toEqual({ kind: 'search', route: SEARCH });
    expect(directReadOf('GET', SEARCH, {}, {})).toEqual({ kind: 'search', route: SEARCH });
  });

  it('leaves other methods, sub-resources, the count and the list by ids to the routes', () => {
    expect(directReadOf('HEAD', THING, {}, {})).toBeUndefined();
    expect(directReadOf('POST', SEARCH, {}, {})).toBeUndefined();
    expect(directReadOf('GET', `${THING}/attributes`, {}, {})).toBeUndefined();
    expect(directReadOf('GET', `${THING}/`, {}, {})).toBeUndefined();
    expect(directReadOf('GET', `${SEARCH}/count`, {}, {})).toBeUndefined();
    expect(directReadOf('GET', '/api/2/things', { ids: 'a:b' }, {})).toBeUndefined();
    expect(directReadOf('GET', '/api/2/things/', {}, {})).toBeUndefined();
  });

  it('leaves conditional and historical reads to the routes', () => {
    for (const header of [
      'if-match',
      'if-none-match',
      'if-modified-since',
      'if-unmodified-since',
      'at-historical-revision',
      'at-historical-timestamp',
    ]) {
      expect(directReadOf('GET', THING, {}, { [header]: '"rev:1"' })).toBeUndefined();
    }
  });

  it('answers only what asks for JSON: SSE and Thing Descriptions go to the routes', () => {
    expect(directReadOf('GET', THING, {}, { accept: 'application/json' })).toBeDefined();
    expect(directReadOf('GET', THING, {}, { accept: 'application/json;q=0.9, */*' })).toBeDefined();
    expect(directReadOf('GET', SEARCH, {}, { accept: 'APPLICATION/*' })).toBeDefined();
    expect(directReadOf('GET', THING, {}, { accept: 'text/event-stream' })).toBeUndefined();
    expect(directReadOf('GET', THING, {}, { accept: 'application/td+json' })).toBeUndefined();
    expect(
      directReadOf('GET', THING, {}, { accept: 'application/td+json, application/json' }),
    ).toBeUndefined();
  });

  it('leaves parameters the plain form does not have, or repeated ones, to the routes', () => {
    expect(directReadOf('GET', THING, { timeout: '10s' }, {})).toBeUndefined();
    expect(directReadOf('GET', THING, { fields: ['a', 'b'] }, {})).toBeUndefined();
    expect(directReadOf('GET', SEARCH, { filter: 'eq(a,1)', timeout: '1s' }, {})).toBeUndefined();
    expect(directReadOf('GET', SEARCH, { filter: ['eq(a,1)', 'eq(a,2)'] }, {})).toBeUndefined();
  });
});
