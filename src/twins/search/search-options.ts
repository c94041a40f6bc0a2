import { Errors } from '../../common/errors.js';
import { queryLimits } from '../../common/query-limits.js';
import { resolveField, type SearchField } from './search-fields.js';

/**
 * The `option` and `namespaces` query parameters of Ditto's search:
 * `option=sort(+thingId,-attributes/x),size(10),cursor(...)` in any order, or the deprecated
 * `limit(offset,count)` instead of size/cursor.
 */

export const DEFAULT_SIZE = 25;
export const MAX_SIZE = 200;

export interface SortKey {
  field: SearchField;
  direction: 'asc' | 'desc';
}

export interface SearchOptions {
  /** As requested; empty when no sort was given (the query then sorts by thingId). */
  sort: SortKey[];
  size: number;
  cursor?: string;
  /** Only from the deprecated limit(offset,count). */
  offset?: number;
}

const NAMESPACE = /^(|[a-zA-Z]\w*(?:[.-][a-zA-Z]\w*)*)$/;

export function parseSearchOptions(option?: string): SearchOptions {
  const result: SearchOptions = { sort: [], size: DEFAULT_SIZE };
  if (option === undefined || option === '') return result;
  const seen = new Set<string>();
  let pos = 0;
  while (pos < option.length) {
    const name = /^[a-zA-Z]*/.exec(option.slice(pos))![0];
    if (name === '' || option[pos + name.length] !== '(')
      fail(option, pos, 'expected sort(...), size(...) or cursor(...)');
    const argsPos = pos + name.length + 1;
    const close = option.indexOf(')', argsPos);
    if (close < 0) fail(option, argsPos - 1, `missing ')' for ${name}(`);
    const args = option.slice(argsPos, close);
    if (seen.has(name)) fail(option, pos, `'${name}' given more than once`);
    seen.add(name);
    switch (name) {
      case 'sort':
        result.sort = parseSort(option, args, argsPos);
        break;
      case 'size':
        result.size = parseCount(option, args, argsPos, 'size');
        break;
      case 'cursor':
        if (!/^[A-Za-z0-9_-]+$/.test(args))
          fail(option, argsPos, 'the cursor is not one this server returned');
        result.cursor = args;
        break;
      case 'limit': {
        const comma = args.indexOf(',');
        if (comma < 0) fail(option, argsPos, 'limit needs an offset and a count: limit(<offset>,<count>)');
        const offset = args.slice(0, comma);
        if (!/^\d{1,15}$/.test(offset)) fail(option, argsPos, `invalid offset '${offset}'`);
        const countText = args.slice(comma + 1).trimStart();
        const countPos = argsPos + args.length - countText.length;
        result.offset = Number(offset);
        result.size = parseCount(option, countText, countPos, 'count');
        break;
      }
      default:
        fail(option, pos, `unknown option '${name}'`);
    }
    pos = close + 1;
    if (pos < option.length) {
      if (option[pos] !== ',') fail(option, pos, `expected ',' between options`);
      pos++;
      while (option[pos] === ' ') pos++;
      if (pos === option.length) fail(option, pos, `expected an option after ','`);
    }
  }
  // Offset paging and cursor paging cannot be mixed, and size would contradict limit's count.
  if (seen.has('limit') && (seen.has('cursor') || seen.has('size'))) {
    throw Errors.searchOptionInvalid(
      `The option 'limit' cannot be combined with 'size' or 'cursor': use size(n) with cursor(...) instead. Options: <${option}>`,
    );
  }
  return result;
}

/** Undefined (no restriction) when the parameter is absent; `""` names the empty namespace. */
export function parseNamespaces(namespaces?: string): string[] | undefined {
  if (namespaces === undefined) return undefined;
  const list = namespaces.split(',').map((ns, i) => (i === 0 ? ns : ns.trimStart()));
  for (const ns of list) {
    if (!NAMESPACE.test(ns)) {
      throw Errors.namespacesInvalid(`The namespace '${ns}' in <${namespaces}> is not a valid namespace.`);
    }
  }
  return [...new Set(list)];
}

function parseSort(option: string, args: string, argsPos: number): SortKey[] {
  const keys: SortKey[] = [];
  let pos = argsPos;
  const list = args.split(',');
  // Each key is an ORDER BY term and part of every cursor: a handful is all a client needs.
  const maxKeys = queryLimits().sortKeys;
  if (list.length > maxKeys) fail(option, argsPos, `at most ${maxKeys} sort properties are allowed`);
  for (const raw of list) {
    const trimmed = raw.trimStart();
    const sign = trimmed[0];
    let direction: SortKey['direction'];
    let property: string;
    if (sign === '+' || sign === '-') {
      direction = sign === '+' ? 'asc' : 'desc';
      property = trimmed.slice(1);
    } else if (raw.startsWith(' ') && trimmed !== '') {
      // An unencoded `+` in a query string arrives as a space.
      direction = 'asc';
      property = trimmed;
    } else {
      fail(option, pos, `sort properties start with + or - (URL-encode + as %2B)`);
    }
    const propertyPos = pos + raw.length - property.length;
    const resolved = resolveField(property, false);
    if (!resolved.ok) fail(option, propertyPos + resolved.offset, resolved.message);
    const text = JSON.stringify(resolved.field);
    if (keys.some((k) => JSON.stringify(k.field) === text))
      fail(option, propertyPos, `'${property}' is sorted twice`);
    keys.push({ field: resolved.field, direction });
    pos += raw.length + 1;
  }
  return keys;
}

function parseCount(option: string, text: string, pos: number, what: string): number {
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > MAX_SIZE) {
    fail(option, pos, `${what} must be a whole number from 1 to ${MAX_SIZE}, not '${text}'`);
  }
  return Number(text);
}

function fail(option: string, pos: number, message: string): never {
  throw Errors.searchOptionInvalid(`Invalid option at position ${pos}: ${message}. Options: <${option}>`);
}
