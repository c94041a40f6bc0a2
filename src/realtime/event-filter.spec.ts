import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import { eventPlaceholders, parseEventFilter } from './event-filter.js';
import { matchesRql } from '../twins/search/rql-match.js';

const placeholder = eventPlaceholders(
  { namespace: 'org.x', name: 't1', action: 'created', full: 'org.x/t1/things/twin/events/created' },
  '/',
);
const matches = (filter: string, doc: Record<string, unknown> = { thingId: 'org.x:t1' }) =>
  matchesRql(parseEventFilter(filter), { doc, placeholder });

describe('event filters with Ditto placeholders', () => {
  it('reads placeholders in property positions only', () => {
    expect(parseEventFilter('and(in(topic:action,"created"),eq(resource:path,"topic:action"))')).toEqual({
      type: 'and',
      children: [
        {
          type: 'in',
          property: { field: { kind: 'placeholder', name: 'topic:action' }, pos: 7 },
          values: [{ kind: 'string', value: 'created' }],
        },
        {
          type: 'compare',
          op: 'eq',
          property: { field: { kind: 'placeholder', name: 'resource:path' }, pos: 34 },
          value: { kind: 'string', value: 'topic:action' },
        },
      ],
    });
    // A key that merely looks like a placeholder is still the thing's attribute.
    expect(matches('eq(attributes/topic:action,"x")', { attributes: { 'topic:action': 'x' } })).toBe(true);
    expect(
      matches(`eq(attributes/a,'it\\'s eq(topic:action,1)')`, {
        attributes: { a: "it's eq(topic:action,1)" },
      }),
    ).toBe(true);
  });

  it('compares placeholders as strings, without type conversion', () => {
    expect(matches('eq(resource:path,"/")')).toBe(true);
    expect(matches('gt(topic:action,"a")')).toBe(true);
    expect(matches('eq(topic:action,1)')).toBe(false);
    expect(matches('ilike(topic:action,"CREA*")')).toBe(true);
    expect(matches('empty(topic:action)')).toBe(false);
    expect(matches('and(eq(topic:group,"things"),eq(topic:channel,"twin"),eq(resource:type,"thing"))')).toBe(
      true,
    );
  });

  it('evaluates topic and resource placeholders of the event', () => {
    expect(matches("and(in(topic:action,'created','deleted'),eq(resource:path,'/'))")).toBe(true);
    expect(matches('eq(topic:action,"modified")')).toBe(false);
    expect(matches('ne(topic:action,"modified")')).toBe(true);
    expect(matches('eq(topic:criterion,"events")')).toBe(true);
    expect(matches('like(topic:full,"org.x/*/events/*")')).toBe(true);
    expect(matches('and(eq(topic:namespace,"org.x"),eq(topic:entityName,"t1"),exists(resource:path))')).toBe(
      true,
    );
  });

  it('still reports syntax errors as Ditto RQL errors', () => {
    expect(() => parseEventFilter('eq(topic:action,')).toThrow(DomainError);
    expect(() => parseEventFilter('eq(topic:bogus,1)')).toThrow(/unknown property root/);
  });
});
