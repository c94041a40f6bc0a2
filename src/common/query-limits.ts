/**
 * How much one query may ask for: RQL nodes (operators plus values, each `in` value counts),
 * sort keys, `fields` entries. Set once from the config when the app is built
 * (RQL_MAX_NODES, RQL_MAX_SORT_KEYS, FIELDS_MAX_ENTRIES).
 *
 * Process-wide because the parsers are pure functions called from every layer (REST, SSE,
 * WebSocket, ingest) without the config at hand; a process runs one app, so one set of limits.
 */
export interface QueryLimits {
  rqlMaxNodes: number;
  sortKeys: number;
  fields: number;
}

export const DEFAULT_QUERY_LIMITS: Readonly<QueryLimits> = Object.freeze({
  rqlMaxNodes: 1000,
  sortKeys: 16,
  fields: 200,
});

let current: Readonly<QueryLimits> = DEFAULT_QUERY_LIMITS;

export function queryLimits(): Readonly<QueryLimits> {
  return current;
}

export function setQueryLimits(limits: QueryLimits): void {
  current = Object.freeze({ ...limits });
}
