import type pg from 'pg';

/** How a repository asks for a statement to be run. */
export interface QueryOptions {
  /**
   * The SQL text is one of a fixed few, run often: prepare it once per connection (see
   * PreparedStatements). Never for text built from client input.
   */
  prepare?: boolean;
}

/** More distinct texts than any repository has: past it statements run unnamed, as before. */
const MAX_NAMED = 256;
/** Renewals before naming stops altogether: each leaves the old statements in every session. */
const MAX_RENEWALS = 8;

/**
 * Names for the fixed SQL texts repositories mark `prepare`. node-postgres sends a named
 * statement's Parse once per connection and afterwards only Bind and Execute, and PostgreSQL plans
 * it once (keeping a generic plan when that costs no more than the custom ones): on the read of a
 * thing by id that halves PostgreSQL's CPU (130 → 60 µs). Each connection keeps every statement
 * it prepared, so the names are bounded: a text beyond MAX_NAMED runs unnamed. Off
 * (DATABASE_PREPARED_STATEMENTS=false) for a pooler that cannot carry named statements, such as
 * PgBouncer before 1.21 in transaction mode. A migration that changes the type of a column a
 * statement returns makes PostgreSQL refuse that statement on every connection; the names are
 * then renewed (`renew`) and the work retried, so a rolling upgrade costs a retry, not errors.
 */
export class PreparedStatements {
  private readonly names = new Map<string, string>();
  private renewals = 0;

  constructor(private enabled: boolean) {}

  /**
   * After `failed` (a config from here) failed with a stale plan (see isStalePlanError): every
   * text gets a new name, so each connection prepares it again instead of failing on its old
   * statement; the caller runs its statement again. Statements of an older naming that fail
   * meanwhile renew nothing more.
   */
  renew(failed: pg.QueryConfig): void {
    if (!failed.name?.startsWith(this.prefix)) return;
    this.names.clear();
    if (++this.renewals > MAX_RENEWALS) this.enabled = false;
  }

  private get prefix(): string {
    return `twin_${this.renewals}_`;
  }

  /** What to hand node-postgres for `sql` with `params`. */
  config(sql: string, params: unknown[] | undefined, options?: QueryOptions): pg.QueryConfig {
    const name = this.enabled && options?.prepare ? this.nameOf(sql) : undefined;
    return name === undefined ? { text: sql, values: params } : { name, text: sql, values: params };
  }

  private nameOf(sql: string): string | undefined {
    let name = this.names.get(sql);
    if (name === undefined && this.names.size < MAX_NAMED) {
      name = `${this.prefix}${this.names.size}`;
      this.names.set(sql, name);
    }
    return name;
  }
}
