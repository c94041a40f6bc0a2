import { DomainError } from '../common/domain-error.js';

const QUERY_HELP =
  'from and to are ISO 8601 instants or epoch milliseconds (from before to); step is a number with a unit ' +
  '(ms, s, m, h, d, w) or an ISO 8601 duration such as PT5M; agg is one of avg, min, max, sum, count, first, ' +
  'last and needs step; limit (1 to 10000) and cursor page raw points and cannot be combined with step.';

/** The errors of the telemetry feature; codes in Ditto's `<area>:<what>.<kind>` style. */
export const TelemetryErrors = {
  queryInvalid: (message: string) => new DomainError(400, 'telemetry:query.invalid', message, QUERY_HELP),
  readingInvalid: (index: number, why: string) =>
    new DomainError(
      400,
      'telemetry:reading.invalid',
      `Telemetry reading #${index} is invalid: ${why}.`,
      'Check the reading against the device contract; the batch was not written.',
    ),
};
