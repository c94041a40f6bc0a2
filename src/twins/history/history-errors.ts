import { DomainError } from '../../common/domain-error.js';

/** How a historical point was asked for, as Ditto names it in its messages. */
export type HistoricalKind = 'revision' | 'timestamp';

const DESCRIPTION =
  'Check if the ID of your requested Thing was correct, you have sufficient permissions and ensure that ' +
  'the asked for revision/timestamp does not exceed the history retention (JOURNAL_RETENTION_DAYS).';

/** Ditto's ThingHistoryNotAccessibleException: the thing's history does not reach that point. */
export function historyNotAccessible(
  thingId: string,
  kind: HistoricalKind,
  value: string | number,
): DomainError {
  return new DomainError(
    404,
    'things:thing.history.notfound',
    `The Thing with ID '${thingId}' at ${kind} '${value}' is not accessible.`,
    DESCRIPTION,
  );
}

/**
 * The same error (so clients written against Ditto handle it), saying why: the journal rows that
 * state is rebuilt from were deleted by the retention.
 */
export function historyNotRetained(
  thingId: string,
  kind: HistoricalKind,
  value: string | number,
): DomainError {
  return new DomainError(
    404,
    'things:thing.history.notfound',
    `The Thing with ID '${thingId}' at ${kind} '${value}' is not accessible: that part of its history is no longer retained.`,
    DESCRIPTION,
  );
}
