import { createHash } from 'node:crypto';
import { Errors } from '../../common/errors.js';
import { formatRql, type RqlNode } from './rql.ast.js';
import { formatField, normalizeTimestamp } from './search-fields.js';
import type { SortKey } from './search-options.js';

/**
 * Keyset-paging cursors: base64url JSON holding the last row's sort values (thingId last) and
 * a hash of what the page was a page of. The hash is no secret, so a forged cursor is possible;
 * every value is therefore checked to be castable, so the worst it can do is skip rows.
 */

export type SortValueType = 'text' | 'bigint' | 'timestamptz' | 'jsonb';

export interface CursorScope {
  filter?: RqlNode;
  /** Effective sort keys (thingId included), as the query orders by them. */
  sort: SortKey[];
  namespaces?: string[];
}

export function sortValueType(key: SortKey): SortValueType {
  const { field } = key;
  if (field.kind === 'doc') return 'jsonb';
  if (field.name === '_revision') return 'bigint';
  if (field.name === '_created' || field.name === '_modified') return 'timestamptz';
  return 'text';
}

/** Normalized spellings, so `attributes/x` and `/attributes/x` or spaces after commas agree. */
export function scopeHash(scope: CursorScope): string {
  const text = JSON.stringify([
    scope.filter === undefined ? null : formatRql(scope.filter),
    scope.sort.map((k) => `${k.direction === 'asc' ? '+' : '-'}${formatField(k.field)}`),
    scope.namespaces === undefined ? null : [...new Set(scope.namespaces)].sort(),
  ]);
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

export function encodeCursor(scope: CursorScope, values: string[]): string {
  return Buffer.from(JSON.stringify({ h: scopeHash(scope), k: values })).toString('base64url');
}

/** The sort values stored in `cursor`, checked against the request it is used with. */
export function decodeCursor(cursor: string, scope: CursorScope): string[] {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid('it could not be decoded');
  }
  if (typeof payload !== 'object' || payload === null) throw invalid('it could not be decoded');
  const { h, k } = payload as { h?: unknown; k?: unknown };
  if (typeof h !== 'string' || !Array.isArray(k)) throw invalid('it could not be decoded');
  if (h !== scopeHash(scope)) {
    throw Errors.searchOptionInvalid(
      'The cursor does not belong to this search: filter, sort and namespaces must be the same as in the ' +
        'request that returned it.',
    );
  }
  if (k.length !== scope.sort.length) throw invalid('it does not match the sort');
  return scope.sort.map((key, i) => {
    const value: unknown = k[i];
    if (typeof value !== 'string' || !castable(value, sortValueType(key)))
      throw invalid('it holds a bad value');
    return value;
  });
}

const INT8_MAX = 9223372036854775807n;

function castable(value: string, type: SortValueType): boolean {
  if (value.includes('\u0000')) return false;
  switch (type) {
    case 'text':
      return true;
    case 'bigint':
      return /^-?\d{1,19}$/.test(value) && BigInt(value) <= INT8_MAX && BigInt(value) >= -INT8_MAX - 1n;
    case 'timestamptz':
      return normalizeTimestamp(value) !== undefined;
    case 'jsonb':
      return isJsonbText(value);
  }
}

/** JSON that jsonb also accepts: no NUL or lone surrogates in strings, numbers numeric can hold. */
function isJsonbText(text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  return !hasBadString(parsed) && !/[eE][+-]?\d{4,}/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, '""'));
}

function hasBadString(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000') || /[\uD800-\uDFFF]/u.test(value);
  if (Array.isArray(value)) return value.some(hasBadString);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).some(([key, v]) => hasBadString(key) || hasBadString(v));
  }
  return false;
}

function invalid(why: string) {
  return Errors.searchOptionInvalid(`The cursor is invalid: ${why}.`);
}
