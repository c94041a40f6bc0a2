import { DomainError } from '../common/domain-error.js';

/** The errors of the ingest's HTTP API; codes in Ditto's `<area>:<what>.<kind>` style. */
export const IngestErrors = {
  queryInvalid: (message: string) =>
    new DomainError(
      400,
      'ingest:query.invalid',
      message,
      'limit is an integer from 1 to 1000, cursor is the one the previous page returned, thingId a Thing ID.',
    ),
};
