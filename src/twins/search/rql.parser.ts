import { Errors } from '../../common/errors.js';
import { queryLimits } from '../../common/query-limits.js';
import {
  COMPARISON_OPS,
  PROPERTY_PLACEHOLDERS,
  type ComparisonOp,
  type PropertyPlaceholder,
  type RqlNode,
  type RqlProperty,
  type RqlValue,
} from './rql.ast.js';
import { normalizeTimestamp, resolveField } from './search-fields.js';

export * from './rql.ast.js';

/**
 * Ditto's RQL (https://www.eclipse.dev/ditto/basic-rql.html) by recursive descent.
 * Ditto allows no whitespace outside quoted strings; we only tolerate spaces after commas,
 * which is what people type. Every error names the 0-based position in the filter.
 */
export function parseRql(filter: string): RqlNode {
  return new RqlParser(filter).parse();
}

// Deep enough for any real filter, shallow enough that recursion can never blow the stack.
const MAX_DEPTH = 64;
const OPERATOR = /[a-z_]*/iy;
const BARE_WORD = /[^,)]*/y;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const ESCAPES: Record<string, string> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class RqlParser {
  private pos = 0;
  private terms = 0;
  /**
   * Operators plus values (each value of `in` counts): the SQL, its parameters and in-memory
   * evaluation grow with it, and a few thousand `in` values already hold the database for seconds.
   */
  private readonly maxTerms = queryLimits().rqlMaxNodes;

  constructor(private readonly input: string) {}

  parse(): RqlNode {
    if (this.input.trim() === '') throw Errors.rqlInvalid('The RQL filter is empty.');
    const node = this.query(1);
    if (this.pos < this.input.length) {
      this.fail(`unexpected '${this.input[this.pos]}' after the end of the query`);
    }
    return node;
  }

  private query(depth: number): RqlNode {
    if (depth > MAX_DEPTH) this.fail(`the query is nested deeper than ${MAX_DEPTH} levels`);
    this.term();
    const start = this.pos;
    OPERATOR.lastIndex = start;
    const name = OPERATOR.exec(this.input)![0];
    if (name === '') this.fail('expected an operator such as eq, and, or, not, exists');
    this.pos += name.length;
    this.expect('(');
    switch (name) {
      case 'and':
      case 'or': {
        const children = [this.query(depth + 1)];
        while (this.comma()) children.push(this.query(depth + 1));
        this.expect(')');
        return { type: name, children };
      }
      case 'not': {
        const child = this.query(depth + 1);
        this.expect(')');
        return { type: 'not', child };
      }
      case 'in': {
        const property = this.property();
        this.expectComma();
        const values = [this.valueFor(property)];
        while (this.comma()) {
          this.term();
          values.push(this.valueFor(property));
        }
        this.expect(')');
        return { type: 'in', property, values };
      }
      case 'exists':
      case 'empty': {
        const property = this.property();
        this.expect(')');
        return { type: name, property };
      }
      default: {
        if (!isComparison(name)) this.fail(`unknown operator '${name}'`, start);
        const property = this.property();
        this.expectComma();
        const valuePos = this.pos;
        const value = this.valueFor(property, name !== 'like' && name !== 'ilike');
        if ((name === 'like' || name === 'ilike') && value.kind !== 'string') {
          this.fail(`'${name}' needs a quoted string pattern`, valuePos);
        }
        this.expect(')');
        return { type: 'compare', op: name, property, value };
      }
    }
  }

  private term(): void {
    if (++this.terms > this.maxTerms)
      this.fail(`the query has more than ${this.maxTerms} operators and values`);
  }

  private property(): RqlProperty {
    const pos = this.pos;
    const text = this.bareWord();
    // Keys may hold quotes and inner spaces (`it's`, `room name`). A leading quote means a quoted
    // property and outer spaces are typos; neither is RQL, so say so instead of matching nothing.
    const bad = /^["'\s]|\s$|[(\t\n\r\f\v]/.exec(text);
    if (bad) this.fail(`unexpected '${bad[0]}' in property`, pos + bad.index);
    if (text === '') this.fail('expected a property');
    // Parsed everywhere, so a search can answer with a clear error instead of a syntax one.
    if (isPropertyPlaceholder(text)) return { field: { kind: 'placeholder', name: text }, pos };
    const resolved = resolveField(text, true);
    if (!resolved.ok) this.fail(resolved.message, pos + resolved.offset);
    return { field: resolved.field, pos };
  }

  /** A value, checked against the property where only one spelling can ever match. */
  private valueFor(property: RqlProperty, timestampCheck = true): RqlValue {
    const pos = this.pos;
    const value = this.value();
    const { field } = property;
    const timestamp = field.kind === 'column' && (field.name === '_created' || field.name === '_modified');
    if (
      timestampCheck &&
      timestamp &&
      value.kind === 'string' &&
      normalizeTimestamp(value.value) === undefined
    ) {
      this.fail(
        `'${field.name}' must be compared with an ISO-8601 timestamp such as 2024-05-01T12:00:00Z`,
        pos,
      );
    }
    return value;
  }

  private value(): RqlValue {
    const quote = this.input[this.pos];
    if (quote === '"' || quote === "'") return { kind: 'string', value: this.string(quote) };
    const pos = this.pos;
    const word = this.bareWord();
    if (word === '') this.fail('expected a value');
    if (word === 'true' || word === 'false') return { kind: 'boolean', value: word === 'true' };
    if (word === 'null') return { kind: 'null' };
    if (word === 'time:now' || word === 'time:now_epoch_millis') return { kind: 'placeholder', name: word };
    if (!NUMBER.test(word)) {
      this.fail(`invalid value '${word}': strings must be quoted, numbers written like -1.5e3`, pos);
    }
    const value = Number(word);
    // Postgres numeric would overflow and fail the whole query; nobody means such numbers.
    if (!Number.isFinite(value) || word.length > 100) this.fail(`number '${word}' is out of range`, pos);
    return { kind: 'number', value, raw: word };
  }

  private string(quote: string): string {
    const start = this.pos;
    let out = '';
    let i = start + 1;
    for (;;) {
      if (i >= this.input.length) this.fail(`unterminated string (missing ${quote})`, start);
      const c = this.input[i];
      if (c === quote) break;
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const e = this.input[i + 1];
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.input.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(this.input.slice(i + 2, i + 6), 16));
        i += 6;
      } else if (e !== undefined && e in ESCAPES) {
        out += ESCAPES[e];
        i += 2;
      } else {
        this.fail(`invalid escape sequence '\\${e ?? ''}' in string`, i);
      }
    }
    // Postgres text and jsonb cannot hold these; reject them here rather than fail in SQL.
    if (out.includes('\u0000')) this.fail('strings must not contain the NUL character', start);
    if (/[\uD800-\uDFFF]/u.test(out)) this.fail('string contains an unpaired UTF-16 surrogate', start);
    this.pos = i + 1;
    return out;
  }

  /** Everything up to the next `,` or `)`: properties and unquoted values. */
  private bareWord(): string {
    BARE_WORD.lastIndex = this.pos;
    const word = BARE_WORD.exec(this.input)![0];
    this.pos += word.length;
    return word;
  }

  private comma(): boolean {
    if (this.input[this.pos] !== ',') return false;
    this.pos++;
    while (this.input[this.pos] === ' ') this.pos++;
    return true;
  }

  private expectComma(): void {
    if (!this.comma()) this.expect(',');
  }

  private expect(c: string): void {
    if (this.input[this.pos] === c) {
      this.pos++;
      return;
    }
    const found = this.pos < this.input.length ? `'${this.input[this.pos]}'` : 'the end of the filter';
    this.fail(`expected '${c}' but found ${found}`);
  }

  private fail(message: string, pos = this.pos): never {
    throw Errors.rqlInvalid(
      `Invalid RQL filter at position ${pos}: ${message}. Filter: <${this.input.length > 500 ? `${this.input.slice(0, 500)}…` : this.input}>`,
    );
  }
}

function isPropertyPlaceholder(text: string): text is PropertyPlaceholder {
  return (PROPERTY_PLACEHOLDERS as readonly string[]).includes(text);
}

function isComparison(name: string): name is ComparisonOp {
  return (COMPARISON_OPS as readonly string[]).includes(name);
}
