/** The rules of the MLOps loop, free of I/O: promotion, rollback, drift. */

export interface RollingError {
  /** Exponentially weighted mean absolute error of the active model against arriving readings. */
  mae: number | null;
  /** Readings compared so far. */
  n: number;
}

export interface ModelSummary {
  id: string;
  version: number;
  status: 'candidate' | 'active' | 'retired';
  /** When the model was last made active, if ever. */
  activatedAt: string | null;
}

/** The errors two models are compared by. */
export interface Score {
  mape: number | null;
  mae: number;
}

/**
 * Champion/challenger: a candidate replaces the active model only if its error on the newest
 * holdout window (its own) is lower than the active model's on that same window: MAPE, the
 * error the models are tuned for, or MAE when MAPE is undefined (all actuals zero). Without an
 * active model (or when it could not be evaluated there) the candidate is promoted.
 */
export function promotes(candidate: Score, champion: Score | null): { promote: boolean; reason: string } {
  if (champion === null || !Number.isFinite(champion.mae))
    return { promote: true, reason: 'no active model to beat' };
  const byMape = candidate.mape !== null && champion.mape !== null;
  const name = byMape ? 'MAPE' : 'MAE';
  const c = byMape ? candidate.mape! : candidate.mae;
  const a = byMape ? champion.mape! : champion.mae;
  const promote = c < a;
  return {
    promote,
    reason: `${name} ${fmt(c)} ${promote ? 'beats' : 'does not beat'} the active model's ${fmt(a)} on the newest holdout`,
  };
}

/**
 * The version a rollback returns to: the model that was active most recently before the current
 * one (among retired ones), else the newest retired version. Undefined when there is none.
 */
export function rollbackTarget(models: readonly ModelSummary[]): ModelSummary | undefined {
  const active = models.find((m) => m.status === 'active');
  const retired = models.filter((m) => m.status === 'retired' && m.id !== active?.id);
  const wasActive = retired
    .filter((m) => m.activatedAt !== null)
    .sort((a, b) => (a.activatedAt! < b.activatedAt! ? 1 : a.activatedAt! > b.activatedAt! ? -1 : 0));
  if (wasActive.length > 0) return wasActive[0];
  return [...retired].sort((a, b) => b.version - a.version)[0];
}

/** Folds absolute errors into the rolling error; `window` readings weigh about as much as the whole past. */
export function rollForward(state: RollingError, absErrors: readonly number[], window: number): RollingError {
  const alpha = 2 / (window + 1);
  let { mae, n } = state;
  for (const e of absErrors) {
    if (!Number.isFinite(e)) continue;
    mae = mae === null ? e : mae + alpha * (e - mae);
    n++;
  }
  return { mae, n };
}

/** Drift: with at least `minReadings` compared, the rolling error exceeds the holdout error × factor. */
export function drifted(
  state: RollingError,
  holdoutMae: number,
  factor: number,
  minReadings: number,
): boolean {
  return state.mae !== null && state.n >= minReadings && state.mae > holdoutMae * factor;
}

function fmt(v: number): string {
  return v.toFixed(3);
}
