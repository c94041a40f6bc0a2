import { parseRql, type PropertyPlaceholder, type RqlNode } from '../twins/search/index.js';

/**
 * An event filter is the search's RQL, where Ditto also allows placeholders of the event as
 * properties, e.g. `and(in(topic:action,'created','deleted'),eq(resource:path,'/'))`. The parser
 * reads them as placeholder fields; twins/search/rql-match.ts resolves them with eventPlaceholders.
 */
export function parseEventFilter(filter: string): RqlNode {
  return parseRql(filter);
}

/** The placeholder values of a twin event, as Ditto resolves them. */
export function eventPlaceholders(
  topic: { namespace: string; name: string; action: string; full: string },
  path: string,
): (name: PropertyPlaceholder) => string {
  return (name) => {
    switch (name) {
      case 'topic:full':
        return topic.full;
      case 'topic:namespace':
        return topic.namespace;
      case 'topic:entityName':
        return topic.name;
      case 'topic:group':
        return 'things';
      case 'topic:channel':
        return 'twin';
      case 'topic:criterion':
        return 'events';
      case 'topic:action':
        return topic.action;
      case 'resource:type':
        return 'thing';
      case 'resource:path':
        return path;
    }
  };
}
