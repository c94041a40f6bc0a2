/** Postgres deadlock_detected and serialization_failure: the transaction can simply run again. */
const TRANSIENT_SQLSTATES = new Set(['40P01', '40001']);

export function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && TRANSIENT_SQLSTATES.has(code)) || isStalePlanError(err);
}

/**
 * A prepared statement whose result columns changed type under it (a newer replica's migration,
 * during a rolling upgrade): PostgreSQL refuses to run it again. Named anew it runs (see
 * PreparedStatements.renew), so the work is worth repeating.
 */
export function isStalePlanError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return (
    e?.code === '0A000' &&
    typeof e.message === 'string' &&
    e.message.includes('cached plan must not change result type')
  );
}

/**
 * Errors about the data a statement carried (data exceptions, limits such as a too-large value,
 * check and not-null violations), not about the database being away: running the same data
 * again fails the same way.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return code.startsWith('22') || code.startsWith('54') || code === '23514' || code === '23502';
}

export interface RetryPolicy {
  /** Whether the failure of `attempt` (1-based) is worth another attempt; if not, it is thrown. */
  retryable(err: unknown, attempt: number): boolean;
  /** How long to wait before the next attempt; at once when absent. */
  backoffMs?(attempt: number): number;
  /** Told about each failure that will be retried, before the wait. */
  onRetry?(err: unknown, attempt: number, waitMs: number): void;
}

/**
 * Runs `work` until it succeeds or the policy gives up. The one retry loop of the write paths:
 * the twin transaction retries transient conflicts at once, the ingest retries a batch with
 * backoff for as long as the database is away. `work` must be safe to run again.
 */
export async function retrying<T>(work: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (!policy.retryable(err, attempt)) throw err;
      const wait = policy.backoffMs?.(attempt) ?? 0;
      policy.onRetry?.(err, attempt, wait);
      if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
    }
  }
}

/** first, 2×first, 4×first, … up to max. */
export function cappedBackoff(firstMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(maxMs, firstMs * 2 ** (attempt - 1));
}
