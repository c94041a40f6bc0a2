/**
 * SQL conditions over policy_readers, the per-subject read summary the policies feature keeps in
 * step with every policy write. Search composes them into its own queries, so other features never
 * spell out this table. `policyId` is an SQL expression, `subjects` a bound text[] parameter.
 *
 * The summary is conservative: `reads_all` is set only where a subject alone reads the whole thing
 * with nothing that could narrow it (no namespace restriction, no expiry), `revokes_some` wherever
 * any READ revoke might apply. So a row judged fully readable here is exactly that; every other
 * readable row is checked against the compiled policy in memory.
 */
export function readableBy(policyId: string, subjects: string): string {
  return `EXISTS (SELECT 1 FROM policy_readers r WHERE r.policy_id = ${policyId} AND r.subject = ANY(${subjects}::text[]) AND r.reads_some)`;
}

export function fullyReadableBy(policyId: string, subjects: string): string {
  return (
    `(EXISTS (SELECT 1 FROM policy_readers r WHERE r.policy_id = ${policyId} AND r.subject = ANY(${subjects}::text[]) AND r.reads_all)` +
    ` AND NOT EXISTS (SELECT 1 FROM policy_readers r WHERE r.policy_id = ${policyId} AND r.subject = ANY(${subjects}::text[]) AND r.revokes_some))`
  );
}

/**
 * fullyReadableBy as a value, for a select list: one index probe per row, never a hashed subplan.
 * (EXISTS sublinks in a select list may be planned as hashed subplans, each reading the whole
 * table to answer a LIMIT of a few rows; an aggregate scalar subquery is always evaluated per row.)
 */
export function fullyReadableValue(policyId: string, subjects: string): string {
  return (
    `COALESCE((SELECT bool_or(r.reads_all) AND NOT bool_or(r.revokes_some) FROM policy_readers r` +
    ` WHERE r.policy_id = ${policyId} AND r.subject = ANY(${subjects}::text[])), false)`
  );
}

/**
 * readableBy and fullyReadableValue from one index probe: a subquery with the columns `reads`
 * and `full_read`, for a CROSS JOIN LATERAL (an aggregate answers one row, and is evaluated per
 * row like the values above). A page that checks readability and then says which rows are read
 * whole needs both; asking twice probed the index twice per row.
 */
export function readerSummary(policyId: string, subjects: string): string {
  return (
    `(SELECT COALESCE(bool_or(r.reads_some), false) AS reads,` +
    ` COALESCE(bool_or(r.reads_all) AND NOT bool_or(r.revokes_some), false) AS full_read` +
    ` FROM policy_readers r WHERE r.policy_id = ${policyId} AND r.subject = ANY(${subjects}::text[]))`
  );
}
