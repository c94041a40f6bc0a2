import { Errors } from '../../common/errors.js';
import type { ComparisonOp, RqlNode, RqlProperty, RqlValue } from './rql.ast.js';
import { normalizeTimestamp, type ColumnField, type SearchField } from './search-fields.js';

/**
 * Compiles an RQL tree into a SQL boolean expression over `things t`. Values only ever travel
 * as bind parameters; the SQL text holds nothing but fixed keywords and `$n` references.
 *
 * Semantics follow Ditto on MongoDB: no type conversion (a number never equals a string), an
 * array property matches when any element does, `ne` is `not eq` (things lacking the property
 * match too), like/ilike match whole strings with `*` and `?` wildcards.
 */

/** Collects bind values; `offset` lets several fragments share one parameter list. */
export class SqlParams {
  readonly values: unknown[] = [];

  constructor(private readonly offset = 0) {}

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.offset + this.values.length}`;
  }
}

export const COLUMN_SQL: Record<ColumnField, string> = {
  thingId: 't.thing_id',
  policyId: 't.policy_id',
  _namespace: 't.namespace',
  _revision: 't.revision',
  _created: 't.created_at',
  _modified: 't.modified_at',
};

/** `now` resolves `time:now` placeholders compared with JSON values (columns use SQL now()). */
export function compileRql(node: RqlNode, params: SqlParams, now: Date = new Date()): string {
  return new Compiler(params, now).node(node);
}

const SQL_OPS = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' } as const;
const PATH_OPS = { eq: '==', gt: '>', ge: '>=', lt: '<', le: '<=' } as const;
// Every value `empty` treats like an absent property.
const EMPTY_VALUES = `'[null, [], {}, ""]'::jsonb`;

class Compiler {
  constructor(
    private readonly params: SqlParams,
    private readonly now: Date,
  ) {}

  node(node: RqlNode): string {
    switch (node.type) {
      case 'and':
      case 'or':
        return `(${node.children.map((c) => this.node(c)).join(` ${node.type.toUpperCase()} `)})`;
      case 'not':
        return `NOT ${this.node(node.child)}`;
      case 'compare': {
        const field = searchField(node.property);
        // Ditto: ne matches only things that have the property ("…only things which do provide an owner").
        if (node.op === 'ne') {
          return `(${this.presence('exists', field)} AND NOT ${this.compare('eq', field, node.value)})`;
        }
        return this.compare(node.op, field, node.value);
      }
      case 'in':
        return this.in(searchField(node.property), node.values);
      case 'exists':
      case 'empty':
        return this.presence(node.type, searchField(node.property));
    }
  }

  private presence(type: 'exists' | 'empty', field: SearchField): string {
    if (field.kind === 'column') return type === 'exists' ? 'TRUE' : `(${COLUMN_SQL[field.name]}::text = '')`;
    const path = `${this.params.add(jsonPath(field.path))}::jsonpath`;
    if (type === 'exists') return `jsonb_path_exists(t.doc, ${path})`;
    // The path query keeps array values whole, so `[]` and `[null]` stay distinguishable.
    return `(jsonb_path_query_array(t.doc, ${path}) <@ ${EMPTY_VALUES})`;
  }

  private compare(op: Exclude<ComparisonOp, 'ne'>, field: SearchField, value: RqlValue): string {
    if (field.kind === 'column') return this.column(op, field.name, value);
    if (op === 'like' || op === 'ilike') {
      if (value.kind !== 'string') throw Errors.rqlInvalid(`'${op}' needs a string pattern.`);
      const flags = op === 'ilike' ? 'is' : 's';
      return this.pathExists(
        field.path,
        `@ like_regex ${JSON.stringify(likeToRegex(value.value))} flag "${flags}"`,
        [],
      );
    }
    if (op === 'eq' && !field.wildcard) return this.contains(field.path, [value]);
    return this.pathExists(field.path, `@ ${PATH_OPS[op]} $v0`, [value]);
  }

  private in(field: SearchField, values: RqlValue[]): string {
    if (field.kind === 'column') {
      return `(${values.map((v) => this.column('eq', field.name, v)).join(' OR ')})`;
    }
    if (!field.wildcard) return this.contains(field.path, values);
    return this.pathExists(field.path, values.map((_, i) => `@ == $v${i}`).join(' || '), values);
  }

  /**
   * Containment is what the GIN (jsonb_path_ops) index serves. The second form catches arrays
   * holding the value, because `{"x":[1,2]}` does not contain `{"x":1}`.
   */
  private contains(path: string[], values: RqlValue[]): string {
    const terms = values.flatMap((v) => {
      const json = this.json(v);
      return [nest(path, json), nest(path, `[${json}]`)].map(
        (doc) => `t.doc @> ${this.params.add(doc)}::jsonb`,
      );
    });
    return `(${terms.join(' OR ')})`;
  }

  /** Lax mode so a missing key is simply no match; `[*]` gives the any-element semantics. */
  private pathExists(path: string[], predicate: string, values: RqlValue[]): string {
    const jsonpath = this.params.add(`${jsonPath(path)}[*] ? (${predicate})`);
    if (values.length === 0) return `jsonb_path_exists(t.doc, ${jsonpath}::jsonpath)`;
    const vars = `{${values.map((v, i) => `"v${i}":${this.json(v)}`).join(',')}}`;
    return `jsonb_path_exists(t.doc, ${jsonpath}::jsonpath, ${this.params.add(vars)}::jsonb)`;
  }

  private column(op: Exclude<ComparisonOp, 'ne'>, name: ColumnField, value: RqlValue): string {
    const column = COLUMN_SQL[name];
    const like = op === 'like' ? 'LIKE' : op === 'ilike' ? 'ILIKE' : undefined;
    const sqlOp = like ?? SQL_OPS[op as keyof typeof SQL_OPS];
    const timestamp = name === '_created' || name === '_modified';
    if (timestamp && !like && value.kind === 'placeholder' && value.name === 'time:now') {
      return `${column} ${sqlOp} now()`;
    }
    const v = this.resolve(value);
    // Values of another type never match: Ditto does not convert.
    if (name === '_revision') {
      return v.kind === 'number' && !like ? `${column} ${sqlOp} ${this.params.add(v.raw)}::numeric` : 'FALSE';
    }
    if (v.kind !== 'string') return 'FALSE';
    if (!timestamp) {
      return `${column} ${sqlOp} ${this.params.add(like ? likeToSqlPattern(v.value) : v.value)}::text`;
    }
    if (like) {
      // Ditto keeps these as ISO strings, so patterns apply to that spelling.
      const iso = `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
      return `${iso} ${like} ${this.params.add(likeToSqlPattern(v.value))}::text`;
    }
    const ts = normalizeTimestamp(v.value);
    if (ts === undefined) throw timestampInvalid(name, v.value);
    return `${column} ${sqlOp} ${this.params.add(ts)}::timestamptz`;
  }

  private resolve(value: RqlValue): Exclude<RqlValue, { kind: 'placeholder' }> {
    if (value.kind !== 'placeholder') return value;
    if (value.name === 'time:now') return { kind: 'string', value: this.now.toISOString() };
    const millis = this.now.getTime();
    return { kind: 'number', value: millis, raw: String(millis) };
  }

  private json(value: RqlValue): string {
    const v = this.resolve(value);
    switch (v.kind) {
      case 'string':
        return JSON.stringify(v.value);
      case 'number':
        return v.raw;
      case 'boolean':
        return String(v.value);
      case 'null':
        return 'null';
    }
  }
}

/**
 * A thing field; placeholders such as topic:action describe a change notification, which a
 * search does not have (Ditto accepts them in event filters only).
 */
function searchField(property: RqlProperty): SearchField {
  const { field } = property;
  if (field.kind !== 'placeholder') return field;
  throw Errors.rqlInvalid(
    `Invalid RQL filter at position ${property.pos}: the placeholder '${field.name}' can only filter ` +
      'change notifications (WebSocket, SSE); a search matches things, not events.',
  );
}

function timestampInvalid(name: string, value: string) {
  return Errors.rqlInvalid(
    `Invalid RQL filter: '${name}' must be compared with an ISO-8601 timestamp such as 2024-05-01T12:00:00Z, ` +
      `not ${JSON.stringify(value)}.`,
  );
}

/** A lax SQL/JSON path to the property; keys are JSON-quoted so any character is safe. */
export function jsonPath(path: string[]): string {
  return '$' + path.map((key, i) => (key === '*' && i === 1 ? '.*' : `.${JSON.stringify(key)}`)).join('');
}

function nest(path: string[], json: string): string {
  return path.reduceRight((inner, key) => `{${JSON.stringify(key)}:${inner}}`, json);
}

/** Ditto's like as an anchored POSIX regex: `*` any run, `?` one character, the rest literal. */
export function likeToRegex(pattern: string): string {
  let re = '';
  for (const c of pattern.replace(/\*{2,}/g, '*')) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += '\\^$.|+()[]{}'.includes(c) ? `\\${c}` : c;
  }
  return `^${re}$`;
}

/** Ditto's like as a SQL LIKE pattern (default escape character is the backslash). */
export function likeToSqlPattern(pattern: string): string {
  return pattern
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replace(/\*/g, '%')
    .replace(/\?/g, '_');
}
