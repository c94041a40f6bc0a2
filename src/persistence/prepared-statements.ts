import type pg from 'pg';
import { ISO_TIMESTAMP_TYPES } from './iso-timestamps.js';

/** How a repository asks for a statement to be run. */
export interface QueryOptions {
  /**
   * `true`: the SQL text is one of a fixed few, run often: prepare it once per connection (see
   * PreparedStatements). `'shape'`: the text is built for the shape of a client's request (a
   * search's filter and options, every value a parameter) and its plan does not hinge on the
   * values; such texts have a budget of their own, so clients sending many shapes never take
   * the fixed texts' names.
   */
  prepare?: boolean | 'shape';
  /** timestamptz columns come as ISO strings (`Date#toISOString`'s), not as Dates. */
  isoTimestamps?: boolean;
}

/** More distinct texts than any repository has: past it statements run unnamed, as before. */
const MAX_NAMED = 256;
/** Request shapes prepared, first come first served: common ones come early and often. */
const MAX_SHAPES = 128;
/**
 * Longer shape texts run unnamed: a filter of hundreds of conditions makes a plan of its own
 * size, and a session keeps each one (a search by one attribute is under 1,000 characters).
 */
const MAX_SHAPE_LENGTH = 4096;
/** Renewals before naming stops altogether: each leaves the old statements in every session. */
const MAX_RENEWALS = 8;

/**
 * Names for the SQL texts repositories mark `prepare`. node-postgres sends a named
 * statement's Parse once per connection and afterwards only Bind and Execute, and PostgreSQL plans
 * it once (keeping a generic plan when that costs no more than the custom ones): on the read of a
 * thing by id that halves PostgreSQL's CPU (130 → 60 µs), on a search by an attribute's value
 * a third (its long text is parsed and planned once, not per search). Each connection keeps
 * every statement it prepared, so the names are bounded: a text beyond MAX_NAMED (MAX_SHAPES for
 * request shapes) runs unnamed. Off (DATABASE_PREPARED_STATEMENTS=false) for a pooler that
 * cannot carry named statements, such as PgBouncer before 1.21 in transaction mode. A migration that changes the type of a column a
 * statement returns makes PostgreSQL refuse that statement on every connection; the names are
 * then renewed (`renew`) and the work retried, so a rolling upgrade costs a retry, not errors.
 */
export class PreparedStatements {
  private readonly names = new Map<string, string>();
  /** Of `names`, how many are request shapes. */
  private shapes = 0;
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
    this.shapes = 0;
    if (++this.renewals > MAX_RENEWALS) this.enabled = false;
  }

  private get prefix(): string {
    return `twin_${this.renewals}_`;
  }

  /** What to hand node-postgres for `sql` with `params`. */
  config(sql: string, params: unknown[] | undefined, options?: QueryOptions): pg.QueryConfig {
    const kind = options?.prepare;
    const name = this.enabled && kind ? this.nameOf(sql, kind === 'shape') : undefined;
    const config: pg.QueryConfig =
      name === undefined ? { text: sql, values: params } : { name, text: sql, values: params };
    if (options?.isoTimestamps) config.types = ISO_TIMESTAMP_TYPES;
    return config;
  }

  private nameOf(sql: string, shape: boolean): string | undefined {
    let name = this.names.get(sql);
    if (name !== undefined) return name;
    const fixed = this.names.size - this.shapes;
    if (shape ? this.shapes >= MAX_SHAPES || sql.length > MAX_SHAPE_LENGTH : fixed >= MAX_NAMED)
      return undefined;
    name = `${this.prefix}${this.names.size}`;
    this.names.set(sql, name);
    if (shape) this.shapes++;
    return name;
  }
}
