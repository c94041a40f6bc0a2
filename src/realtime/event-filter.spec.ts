import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import { eventPlaceholders, parseEventFilter, rewritePlaceholders } from './event-filter.js';
import { matchesRql, PLACEHOLDER_MARK } from './rql-match.js';

const placeholder = eventPlaceholders(
  { namespace: 'org.x', name: 't1', action: 'created', full: 'org.x/t1/things/twin/events/created' },
  '/',
);
const matches = (filter: string, doc: Record<string, unknown> = { thingId: 'org.x:t1' }) =>
  matchesRql(parseEventFilter(filter), { doc, placeholder });

describe('event filters with Ditto placeholders', () => {
  it('rewrites placeholders in property positions only', () => {
    expect(rewritePlaceholders('and(in(topic:action,"created"),eq(resource:path,"topic:action"))')).toBe(
      `and(in(attributes/${PLACEHOLDER_MARK}topic:action,"created"),eq(attributes/${PLACEHOLDER_MARK}resource:path,"topic:action"))`,
    );
    expect(rewritePlaceholders('eq(attributes/topic:action,1)')).toBe('eq(attributes/topic:action,1)');
    expect(rewritePlaceholders(`eq(attributes/a,'it\\'s eq(topic:action,1)')`)).toBe(
      `eq(attributes/a,'it\\'s eq(topic:action,1)')`,
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
