/** The search building blocks the REST layer calls; see search.query.ts for the flow. */
export { parseRql } from './rql.parser.js';
export type {
  ComparisonOp,
  FilterField,
  PropertyPlaceholder,
  RqlNode,
  RqlPlaceholder,
  RqlProperty,
  RqlValue,
} from './rql.ast.js';
export { PROPERTY_PLACEHOLDERS } from './rql.ast.js';
export { formatRql } from './rql.ast.js';
export { compileRql, SqlParams } from './rql.sql.js';
export { DEFAULT_SIZE, MAX_SIZE, parseNamespaces, parseSearchOptions } from './search-options.js';
export type { SearchOptions, SortKey } from './search-options.js';
export type { SearchField } from './search-fields.js';
export {
  buildCountQuery,
  buildPartialQuery,
  buildSearchQuery,
  nextCursor,
  SORT_CANDIDATES_MAX,
  toPage,
  runSearch,
  tooManyCandidates,
} from './search.query.js';
export { matchesRql } from './rql-match.js';
export type { SearchPage, SearchQueryInput, SearchRow, SearchSql, SqlQuery } from './search.query.js';
