import { parseRql, type RqlNode } from '../twins/search/index.js';
import { PLACEHOLDER_MARK } from './rql-match.js';

/**
 * Ditto allows placeholders as properties in event filters, e.g.
 * `and(in(topic:action,'created','deleted'),eq(resource:path,'/'))`. The search parser only knows
 * thing fields, so before parsing each placeholder property is rewritten to an attribute key that
 * starts with a private-use character no client writes, and rql-match.ts reads it back as the
 * placeholder. Values keep their spelling, and string literals are skipped, so only property
 * positions change. (The proper fix is for the search parser to accept placeholder properties on
 * request; see README ## Realtime.)
 */
const PLACEHOLDERS = [
  'topic:full',
  'topic:namespace',
  'topic:entityName',
  'topic:group',
  'topic:channel',
  'topic:criterion',
  'topic:action',
  'resource:type',
  'resource:path',
] as const;

const OPERATOR_WITH_PROPERTY = /(?:eq|ne|gt|ge|lt|le|like|ilike|in|exists|empty)\($/;

export function parseEventFilter(filter: string): RqlNode {
  return parseRql(rewritePlaceholders(filter));
}

export function rewritePlaceholders(filter: string): string {
  let out = '';
  let i = 0;
  while (i < filter.length) {
    const c = filter[i];
    if (c === '"' || c === "'") {
      const end = stringEnd(filter, i);
      out += filter.slice(i, end);
      i = end;
      continue;
    }
    if (out.endsWith('(') && OPERATOR_WITH_PROPERTY.test(out.slice(-7))) {
      const name = PLACEHOLDERS.find(
        (p) => filter.startsWith(p, i) && /^[,)]/.test(filter.slice(i + p.length)),
      );
      if (name) {
        out += `attributes/${PLACEHOLDER_MARK}${name}`;
        i += name.length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}

/** Index after the closing quote (or the end, leaving the error to the parser). */
function stringEnd(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === quote) return i + 1;
  }
  return text.length;
}

/** The placeholder values of a twin event, as Ditto resolves them. */
export function eventPlaceholders(
  topic: { namespace: string; name: string; action: string; full: string },
  path: string,
): (name: string) => string | undefined {
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
      default:
        return undefined;
    }
  };
}
