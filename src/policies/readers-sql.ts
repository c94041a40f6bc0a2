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

/** readableBy as a per-row aggregate: never planned as a join (see fullyReadableValue). */
export function readableValue(policyId: string, subjects: string): string {
  return (
    `COALESCE((SELECT bool_or(r.reads_some) FROM policy_readers r` +
    ` WHERE r.policy_id = ${policyId} AND r.subject = ANY(${subjects}::text[])), false)`
  );
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
