import { messageEnvelopeTopic, messagePath, type WireMessage } from '../protocol/messages.js';
import { parseRql, type PropertyPlaceholder, type RqlNode } from '../twins/search/index.js';
import { matchesRql } from '../twins/search/rql-match.js';

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

/**
 * Whether a live message passes a START-SEND-MESSAGES `filter`, as Ditto applies it: a message
 * carries no thing data, so the filter sees `thingId` and `_namespace`, and the placeholders of the
 * message (`topic:action` is its subject, `topic:criterion` is `messages`,
 * `topic:channel` is `live`, `resource:path` is e.g. `/inbox/messages/<subject>`).
 */
export function matchesMessageFilter(filter: RqlNode, m: WireMessage): boolean {
  const colon = m.thingId.indexOf(':');
  const namespace = m.thingId.slice(0, colon);
  const full = messageEnvelopeTopic(m.thingId, m.subject);
  const path = messagePath(m);
  const placeholder = (name: PropertyPlaceholder): string => {
    switch (name) {
      case 'topic:full':
        return full;
      case 'topic:namespace':
        return namespace;
      case 'topic:entityName':
        return m.thingId.slice(colon + 1);
      case 'topic:group':
        return 'things';
      case 'topic:channel':
        return 'live';
      case 'topic:criterion':
        return 'messages';
      case 'topic:action':
        return m.subject;
      case 'resource:type':
        return 'message';
      case 'resource:path':
        return path;
    }
  };
  return matchesRql(filter, { doc: { thingId: m.thingId, _namespace: namespace }, placeholder });
}
