import { isJsonObject } from '../model/json-pointer.js';
import type { ComparisonOp, FilterField, PropertyPlaceholder, RqlNode, RqlValue } from './rql.ast.js';
import { compileWildcard, type Wildcard } from './wildcard.js';
import { normalizeTimestamp } from './search-fields.js';

/**
 * Evaluates a parsed RQL filter against one JSON document in memory, with the semantics of the
 * SQL compiler (rql.sql.ts) so that an event filter and a search agree:
 * - no type conversion: a number never equals a string;
 * - an array property matches when any of its elements does;
 * - `ne` matches only documents that have the property;
 * - `like`/`ilike` match whole strings, `*` any run and `?` one character.
 * Like the SQL compiler, `eq`/`in` on a plain path follow objects only (containment), while other
 * comparisons and wildcard paths follow Postgres' lax JSON path (arrays on the way are unwrapped).
 */

export type JsonDoc = Record<string, unknown>;

export interface MatchInput {
  /** The thing: document fields plus thingId, policyId, _namespace, _revision, _created, _modified. */
  doc: JsonDoc;
  /** Values of placeholders used as properties, e.g. `topic:action` (see eventPlaceholders). */
  placeholder?: (name: PropertyPlaceholder) => string | undefined;
  now?: Date;
}

type Scalar = string | number | boolean | null;
const ORDER_OPS = {
  gt: (c: number) => c > 0,
  ge: (c: number) => c >= 0,
  lt: (c: number) => c < 0,
  le: (c: number) => c <= 0,
};
const EMPTY_VALUES = (v: unknown): boolean =>
  v === null ||
  v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (isJsonObject(v) && Object.keys(v).length === 0);

export function matchesRql(node: RqlNode, input: MatchInput): boolean {
  return new Matcher(input).node(node);
}

class Matcher {
  private readonly now: Date;

  constructor(private readonly input: MatchInput) {
    this.now = input.now ?? new Date();
  }

  node(node: RqlNode): boolean {
    switch (node.type) {
      case 'and':
        return node.children.every((c) => this.node(c));
      case 'or':
        return node.children.some((c) => this.node(c));
      case 'not':
        return !this.node(node.child);
      case 'compare':
        if (node.op === 'ne') {
          const field = node.property.field;
          return this.exists(field) && !this.compare('eq', field, node.value);
        }
        return this.compare(node.op, node.property.field, node.value);
      case 'in':
        return node.values.some((v) => this.compare('eq', node.property.field, v));
      case 'exists':
        return this.exists(node.property.field);
      case 'empty':
        return this.empty(node.property.field);
    }
  }

  private exists(field: FilterField): boolean {
    const scalar = this.scalarField(field);
    if (scalar) return scalar.value !== undefined;
    return laxItems(this.input.doc, docPath(field)).length > 0;
  }

  private empty(field: FilterField): boolean {
    const scalar = this.scalarField(field);
    if (scalar) return scalar.value === undefined || scalar.value === '';
    return laxItems(this.input.doc, docPath(field)).every(EMPTY_VALUES);
  }

  private compare(op: Exclude<ComparisonOp, 'ne'>, field: FilterField, raw: RqlValue): boolean {
    const scalar = this.scalarField(field);
    if (scalar) return this.compareColumn(op, scalar.name, scalar.value, raw);
    const value = this.resolve(raw);
    const path = docPath(field);
    if (op === 'like' || op === 'ilike') {
      if (typeof value !== 'string') return false;
      const re = likeMatcher(value, op === 'ilike');
      return leafItems(this.input.doc, path).some((v) => typeof v === 'string' && re.test(v));
    }
    if (op === 'eq' && !isWildcard(field)) return contains(this.input.doc, path, value);
    if (op === 'eq') return leafItems(this.input.doc, path).some((v) => compareJson(v, value) === 0);
    const test = ORDER_OPS[op];
    return leafItems(this.input.doc, path).some((v) => {
      const c = compareJson(v, value);
      return c !== undefined && test(c);
    });
  }

  /** System fields, which Postgres keeps as columns, and filter placeholders: single values. */
  private scalarField(field: FilterField): { name: string; value: unknown } | undefined {
    if (field.kind === 'column') return { name: field.name, value: this.input.doc[field.name] };
    if (field.kind === 'placeholder')
      return { name: field.name, value: this.input.placeholder?.(field.name) };
    return undefined;
  }

  private compareColumn(
    op: Exclude<ComparisonOp, 'ne'>,
    /** A system field (ColumnField) or a placeholder name. */
    name: string,
    actual: unknown,
    raw: RqlValue,
  ): boolean {
    if (actual === undefined || actual === null) return false;
    const timestamp = name === '_created' || name === '_modified';
    if (op === 'like' || op === 'ilike') {
      return (
        raw.kind === 'string' &&
        typeof actual === 'string' &&
        likeMatcher(raw.value, op === 'ilike').test(actual)
      );
    }
    const value = this.resolve(raw);
    if (name === '_revision') {
      return typeof value === 'number' && typeof actual === 'number' && test(op, actual - value);
    }
    if (typeof value !== 'string' || typeof actual !== 'string') return false;
    if (timestamp) {
      const wanted =
        raw.kind === 'placeholder' ? this.now.getTime() : Date.parse(normalizeTimestamp(value) ?? '');
      const have = Date.parse(actual);
      return !Number.isNaN(wanted) && !Number.isNaN(have) && test(op, have - wanted);
    }
    return test(op, compareStrings(actual, value));
  }

  private resolve(value: RqlValue): Scalar {
    switch (value.kind) {
      case 'string':
      case 'number':
      case 'boolean':
        return value.value;
      case 'null':
        return null;
      case 'placeholder':
        return value.name === 'time:now' ? this.now.toISOString() : this.now.getTime();
    }
  }
}

function test(op: 'eq' | 'gt' | 'ge' | 'lt' | 'le', c: number): boolean {
  return op === 'eq' ? c === 0 : ORDER_OPS[op](c);
}

function isWildcard(field: FilterField): boolean {
  return field.kind === 'doc' && field.wildcard;
}

function docPath(field: FilterField): string[] {
  return field.kind === 'doc' ? field.path : [field.name];
}

/** `doc @> {path: v}` or `doc @> {path: [v]}`: objects all the way, then the value or an array holding it. */
function contains(doc: JsonDoc, path: string[], value: Scalar): boolean {
  let node: unknown = doc;
  for (const key of path) {
    if (!isJsonObject(node) || !Object.prototype.hasOwnProperty.call(node, key)) return false;
    node = node[key];
  }
  if (compareJson(node, value) === 0) return true;
  return Array.isArray(node) && node.some((e) => compareJson(e, value) === 0);
}

/** What a lax SQL/JSON path `$.a.b` yields: member access unwraps one level of arrays. */
function laxItems(doc: JsonDoc, path: string[]): unknown[] {
  let items: unknown[] = [doc];
  path.forEach((key, i) => {
    const next: unknown[] = [];
    for (const item of items) {
      for (const target of Array.isArray(item) ? item : [item]) {
        if (!isJsonObject(target)) continue;
        if (key === '*' && i === 1) next.push(...Object.values(target));
        else if (Object.prototype.hasOwnProperty.call(target, key)) next.push(target[key]);
      }
    }
    items = next;
  });
  return items;
}

/** `$.a.b[*]`: the items, with arrays replaced by their elements. */
function leafItems(doc: JsonDoc, path: string[]): unknown[] {
  return laxItems(doc, path).flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [v]));
}

/**
 * Postgres jsonpath comparison: same-typed scalars compare (strings by code point, false < true),
 * null equals only null, anything else is unknown (undefined), which never matches.
 */
function compareJson(a: unknown, b: Scalar): number | undefined {
  if (a === null || b === null) return a === b ? 0 : undefined;
  if (typeof a !== typeof b) return undefined;
  if (typeof a === 'number') return a - (b as number);
  if (typeof a === 'string') return compareStrings(a, b as string);
  if (typeof a === 'boolean') return Number(a) - Number(b);
  return undefined;
}

/** Code point order (as Postgres compares UTF-8), which differs from UTF-16 order for astral characters. */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

const wildcardCache = new Map<string, Wildcard>();

function likeMatcher(pattern: string, insensitive: boolean): Wildcard {
  const key = `${insensitive ? 'i' : 's'}:${pattern}`;
  let matcher = wildcardCache.get(key);
  if (!matcher) {
    matcher = compileWildcard(pattern, insensitive);
    if (wildcardCache.size > 1000) wildcardCache.clear();
    wildcardCache.set(key, matcher);
  }
  return matcher;
}
