import { Errors } from '../../common/errors.js';
import {
  fullyReadableBy,
  fullyReadableValue,
  readableBy,
  readerSummary,
} from '../../policies/readers-sql.js';
import type { RqlNode } from './rql.ast.js';
import { COLUMN_SQL, compileRql, SqlParams } from './rql.sql.js';
import {
  decodeCursor,
  encodeCursor,
  sortValueType,
  type CursorScope,
  type SortValueType,
} from './search.cursor.js';
import { MAX_SIZE, type SortKey } from './search-options.js';

/**
 * The search SQL. Typical use by the REST layer:
 *
 *   const input = { filter: parseRql(f), namespaces: parseNamespaces(ns), ...parseSearchOptions(option) };
 *   const rows = await tx.query<SearchRow>(...Object.values(buildSearchQuery(input)));
 *   const page = toPage(rows, input);   // { rows: at most size rows, cursor? | nextPageOffset? }
 *
 *   buildSearchQuery(input)  SELECT of one page, size+1 rows so a next page can be detected
 *   buildCountQuery(input)   SELECT count(*)::bigint AS count (pg returns int8 as a string)
 *   nextCursor(row, input)   cursor that continues after `row`; input as given to buildSearchQuery
 *   toPage(rows, input)      the page and its cursor (or nextPageOffset for limit paging)
 *
 * Paging is keyset ("seek") paging ordered by the sort keys plus thingId, so pages stay stable
 * while things are written. The deprecated limit(offset,count) maps to `offset`.
 */

export interface SearchQueryInput {
  filter?: RqlNode;
  namespaces?: string[];
  /** Only things these subjects may read something of; each row says whether they read it all. */
  readers?: readonly string[];
  sort: SortKey[];
  size: number;
  cursor?: string;
  offset?: number;
  /** See SORT_CANDIDATES_MAX (tests lower it). */
  candidatesMax?: number;
  /** False: rows come with `metadata` NULL, for answers that do not show `_metadata`. */
  metadata?: boolean;
}

export interface SqlQuery {
  sql: string;
  params: unknown[];
  /**
   * Its plan does not hinge on the parameters' values, so one plan may serve every search of the
   * same shape (see QueryOptions' `'shape'`).
   */
  prepare?: boolean;
}

/**
 * A search query; with `fallback`, the query itself sorts the filter's candidates in memory and
 * is right only while they number fewer than `candidatesMax` (see tooManyCandidates): beyond,
 * run `fallback` instead.
 */
export interface SearchSql extends SqlQuery {
  fallback?: SqlQuery;
  candidatesMax?: number;
}

/**
 * A filter with an equality the GIN index answers (`eq`, `in` on a fixed path) is sorted from its
 * candidates when they are fewer than this. PostgreSQL cannot estimate how many documents a
 * containment matches (a guess of 1 % at 10,000 things), so for `ORDER BY thingId LIMIT 26` it
 * would often walk the primary key checking every thing's document instead: 4.4 ms at 10,000
 * things against 0.2 ms, and the whole table when nothing matches. Materialising the candidates
 * (at most this many, from the index) takes that choice away; a filter matching more goes the
 * ordered way, which finds a page quickly precisely because matches are then common.
 */
export const SORT_CANDIDATES_MAX = 5000;

/** A result row; `sort_<i>` hold the sort values as text, exactly as the cursor needs them. */
export interface SearchRow {
  thing_id: string;
  doc: Record<string, unknown>;
  revision: string;
  namespace: string;
  /** ISO strings (the repository reads them so). */
  created_at: string;
  modified_at: string;
  metadata: Record<string, string> | null;
  policy_id: string;
  /** With `readers`: whether they may read the whole thing (else it is checked in memory). */
  full_read?: boolean;
  /** From a query with a fallback: how many things matched, up to its candidatesMax. */
  candidates?: string;
  [sortValue: `sort_${number}`]: string;
}

const THING_ID: SortKey = { field: { kind: 'column', name: 'thingId' }, direction: 'asc' };

export function buildSearchQuery(input: SearchQueryInput, now?: Date): SearchSql {
  if (!Number.isInteger(input.size) || input.size < 1 || input.size > MAX_SIZE) {
    throw Errors.searchOptionInvalid(`The size must be from 1 to ${MAX_SIZE}, not ${input.size}.`);
  }
  if (input.cursor !== undefined && input.offset !== undefined) {
    throw Errors.searchOptionInvalid("The option 'limit' cannot be combined with 'cursor'.");
  }
  const ordered = searchSql(input, now);
  if (!indexedEquality(input.filter)) return ordered;
  const candidatesMax = input.candidatesMax ?? SORT_CANDIDATES_MAX;
  return { ...searchSql(input, now, candidatesMax), fallback: ordered, candidatesMax };
}

/**
 * Runs a search query as it must be run (`run` executes one statement): the fallback when the
 * candidates were too many, and without the row of NULLs with which the candidate form answers
 * an empty page (it carries the count).
 */
export async function runSearch(
  query: SearchSql,
  run: (q: SqlQuery) => Promise<SearchRow[]>,
): Promise<SearchRow[]> {
  const rows = await run(query);
  if (query.fallback && tooManyCandidates(rows, query)) return run(query.fallback);
  return rows.length === 1 && (rows[0].thing_id as string | null) === null ? [] : rows;
}

/** Whether `rows` of a query with a fallback came from too many candidates to be the answer. */
export function tooManyCandidates(rows: readonly SearchRow[], query: SearchSql): boolean {
  if (!query.fallback || query.candidatesMax === undefined || rows.length === 0) return false;
  return Number(rows[0].candidates) >= query.candidatesMax;
}

/** With `candidatesMax`, the candidate-sorting form (see SORT_CANDIDATES_MAX). */
function searchSql(input: SearchQueryInput, now?: Date, candidatesMax?: number): SqlQuery {
  const params = new SqlParams();
  const inMemory = candidatesMax !== undefined;
  const where = conditions(inMemory ? { ...input, readers: undefined } : input, params, now);
  const keys = effectiveSort(input.sort).map((key) => sortColumn(key, params));
  if (input.cursor !== undefined) {
    const values = decodeCursor(input.cursor, scopeOf(input));
    where.push(seek(keys.map((key, i) => ({ ...key, value: `${params.add(values[i])}::${key.type}` }))));
  }
  const filtered = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
  const subjects = input.readers ? params.add(input.readers) : undefined;
  // The candidate form learns whether a page row is read whole where it checks it is readable.
  const fullRead = (readers: string) =>
    inMemory ? 'COALESCE(p.full_read, false)' : fullyReadableValue('t.policy_id', readers);
  const select = [
    thingColumns(input.metadata),
    subjects ? `, ${fullRead(subjects)} AS full_read` : '',
    ...keys.map((key, i) => `, ${key.text} AS sort_${i}`),
  ].join('');
  const page = ` LIMIT ${params.add(input.size + 1)}${input.offset ? ` OFFSET ${params.add(input.offset)}` : ''}`;
  if (!inMemory) {
    const order = keys.map((key) => `${key.expr} ${key.direction.toUpperCase()}`).join(', ');
    return { sql: `${select} FROM things t${filtered} ORDER BY ${order}${page}`, params: params.values };
  }
  // The candidates sorted, then read in that order until the page is full: only the things a page
  // needs are checked for readability (a few dozen of up to 5,000), as an aggregate per row, since
  // an EXISTS would be planned as a join that hashes every reader row of the subjects. OFFSET 0
  // keeps PostgreSQL from moving that check below the sort. The candidates carry only their id,
  // policy and sort values: documents are read for the page alone, not copied and sorted by the
  // thousand.
  const sortValues = keys.map((key, i) => `${key.expr} AS o_${i}`).join(', ');
  const candidates = `WITH c AS MATERIALIZED (SELECT t.thing_id, t.policy_id, ${sortValues} FROM things t${filtered} LIMIT ${params.add(candidatesMax)})`;
  const order = (alias: string) =>
    keys.map((key, i) => `${alias}o_${i} ${key.direction.toUpperCase()}`).join(', ');
  const readable = subjects
    ? `, rd.full_read FROM (SELECT * FROM c ORDER BY ${order('')} OFFSET 0) c CROSS JOIN LATERAL ${readerSummary('c.policy_id', subjects)} rd WHERE rd.reads`
    : ` FROM (SELECT * FROM c ORDER BY ${order('')} OFFSET 0) c`;
  const pageRows = `, p AS (SELECT c.*${readable} ORDER BY ${order('')}${page}) `;
  // The count comes even with an empty page (one row of NULLs, which runSearch drops): the first
  // candidates may all be unreadable while readable matches lie beyond the cap. Each page row is
  // read by its id (OFFSET 0: not planned as a join, which on a small table hashes all of it).
  const counted =
    '(SELECT count(*) AS candidates FROM c) k LEFT JOIN (p CROSS JOIN LATERAL' +
    ' (SELECT * FROM things t WHERE t.thing_id = p.thing_id OFFSET 0) t) ON true';
  // Prepared per shape: the form leaves the plan little to choose whatever the values (the
  // candidates from the equality's index, at most candidatesMax; each page row by its id), and
  // parsing and planning this long text cost PostgreSQL about as much as running it.
  return {
    sql: `${candidates}${pageRows}${select}, k.candidates FROM ${counted} ORDER BY ${order('p.')}`,
    params: params.values,
    prepare: true,
  };
}

/** The columns of a stored thing; its leaf times (often larger than the document) only if wanted. */
function thingColumns(metadata = true): string {
  return `SELECT t.thing_id, t.doc, t.revision, t.namespace, t.created_at, t.modified_at, ${metadata ? 't.metadata' : 'NULL::jsonb AS metadata'}, t.policy_id`;
}

/** An `eq` or `in` on a fixed path at the filter's top, alone or in an `and`: see SORT_CANDIDATES_MAX. */
function indexedEquality(node: RqlNode | undefined): boolean {
  if (!node) return false;
  if (node.type === 'and') return node.children.some(indexedEquality);
  const field = node.type === 'compare' || node.type === 'in' ? node.property.field : undefined;
  const fixedPath = field?.kind === 'doc' && !field.wildcard;
  return fixedPath && (node.type === 'in' || (node.type === 'compare' && node.op === 'eq'));
}

/**
 * With `readers`, counts only the things they read whole; those they read in part are listed by
 * buildPartialQuery, for the caller to check in memory.
 */
export function buildCountQuery(
  input: Pick<SearchQueryInput, 'filter' | 'namespaces' | 'readers'>,
  now?: Date,
): SqlQuery {
  const params = new SqlParams();
  const where = conditions(input, params, now);
  if (input.readers) where.push(fullyReadableBy('t.policy_id', params.add(input.readers)));
  const sql = `SELECT count(*)::bigint AS count FROM things t${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`;
  return { sql, params: params.values };
}

/** The things matching the filter that `readers` may read only in part, at most `limit` of them. */
export function buildPartialQuery(
  input: Pick<SearchQueryInput, 'filter' | 'namespaces' | 'metadata'> & { readers: readonly string[] },
  limit: number,
  now?: Date,
): SqlQuery {
  const params = new SqlParams();
  const where = conditions(input, params, now);
  where.push(`NOT ${fullyReadableBy('t.policy_id', params.add(input.readers))}`);
  const sql =
    thingColumns(input.metadata) +
    ` FROM things t WHERE ${where.join(' AND ')} ORDER BY t.thing_id LIMIT ${params.add(limit)}`;
  return { sql, params: params.values };
}

/** The cursor continuing after `lastRow`, the last row returned (not the size+1st). */
export function nextCursor(lastRow: SearchRow, input: SearchQueryInput): string {
  const scope = scopeOf(input);
  return encodeCursor(
    scope,
    scope.sort.map((_, i) => {
      const value = lastRow[`sort_${i}`];
      if (typeof value !== 'string')
        throw new TypeError(`nextCursor: row lacks sort_${i}; pass a row of buildSearchQuery`);
      return value;
    }),
  );
}

export interface SearchPage {
  rows: SearchRow[];
  /** Set when more rows follow and the request paged by cursor. */
  cursor?: string;
  /** Set when more rows follow and the request used limit(offset,count). */
  nextPageOffset?: number;
}

/** Cuts the size+1 fetched rows to one page and says how to get the next one, if any. */
export function toPage(rows: SearchRow[], input: SearchQueryInput): SearchPage {
  if (rows.length <= input.size) return { rows };
  const page = rows.slice(0, input.size);
  if (input.offset !== undefined) return { rows: page, nextPageOffset: input.offset + input.size };
  return { rows: page, cursor: nextCursor(page[page.length - 1], input) };
}

/** The keys the query orders by: as requested up to thingId (unique, so later keys are moot), then thingId. */
export function effectiveSort(sort: SortKey[]): SortKey[] {
  const idAt = sort.findIndex((k) => k.field.kind === 'column' && k.field.name === 'thingId');
  return idAt >= 0 ? sort.slice(0, idAt + 1) : [...sort, THING_ID];
}

function scopeOf(input: SearchQueryInput): CursorScope {
  return { filter: input.filter, sort: effectiveSort(input.sort), namespaces: input.namespaces };
}

function conditions(
  input: Pick<SearchQueryInput, 'filter' | 'namespaces' | 'readers'>,
  params: SqlParams,
  now?: Date,
) {
  const where: string[] = [];
  if (input.filter) where.push(compileRql(input.filter, params, now));
  if (input.namespaces) where.push(`t.namespace = ANY(${params.add(input.namespaces)}::text[])`);
  if (input.readers) where.push(readableBy('t.policy_id', params.add(input.readers)));
  return where;
}

interface SortColumn {
  /** What ORDER BY and the seek condition compare. */
  expr: string;
  /** The value selected for the cursor, lossless as text. */
  text: string;
  type: SortValueType;
  direction: SortKey['direction'];
}

function sortColumn(key: SortKey, params: SqlParams): SortColumn {
  const type = sortValueType(key);
  const { field, direction } = key;
  if (field.kind === 'doc') {
    // Missing values sort like JSON null, so things without the property still get a place.
    const expr = `COALESCE(t.doc #> ${params.add(field.path)}::text[], 'null'::jsonb)`;
    return { expr, text: `${expr}::text`, type, direction };
  }
  const expr = COLUMN_SQL[field.name];
  // Microseconds matter: a cursor rounded to milliseconds would skip or repeat rows.
  const text =
    type === 'timestamptz'
      ? `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
      : type === 'bigint'
        ? `${expr}::text`
        : expr;
  return { expr, text, type, direction };
}

/**
 * Rows strictly after the cursor in ORDER BY order. One direction throughout is a row-value
 * comparison (index friendly); mixed directions expand to
 * (a > x) OR (a = x AND b < y) OR (a = x AND b = y AND c > z).
 */
function seek(keys: (SortColumn & { value: string })[]): string {
  const after = (k: SortColumn) => (k.direction === 'asc' ? '>' : '<');
  if (keys.every((k) => k.direction === keys[0].direction)) {
    return `(${keys.map((k) => k.expr).join(', ')}) ${after(keys[0])} (${keys.map((k) => k.value).join(', ')})`;
  }
  const terms = keys.map((key, i) => {
    const equal = keys.slice(0, i).map((k) => `${k.expr} = ${k.value}`);
    return `(${[...equal, `${key.expr} ${after(key)} ${key.value}`].join(' AND ')})`;
  });
  return `(${terms.join(' OR ')})`;
}
