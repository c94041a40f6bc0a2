import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError } from '../../common/domain-error.js';
import { Errors } from '../../common/errors.js';

/** A point in a thing's history: after a revision, or as it was at a time. */
export type HistoricalPoint = { revision: number } | { timestamp: string };

export const AT_REVISION = 'at-historical-revision';
export const AT_TIMESTAMP = 'at-historical-timestamp';

/** ISO-8601 date-time as Ditto's docs write it: seconds and fraction optional, a zone required. */
const ISO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/i;

/** A revision: digits only, small enough to be exact in a JS number. */
export function parseRevision(value: string, name: string): number {
  const v = value.trim();
  if (!/^\d{1,15}$/.test(v)) throw Errors.headerInvalid(name, value, 'a non-negative integer revision');
  return Number(v);
}

/** An ISO-8601 timestamp, normalized to the UTC form the journal's timestamps are compared in. */
export function parseTimestamp(value: string, name: string): string {
  const m = ISO_TIMESTAMP.exec(value.trim());
  // JS dates hold milliseconds: a finer fraction is truncated, never rounded into the next ms.
  const text = m ? `${m[1]}:${m[2] ?? '00'}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}${m[4]}` : '';
  const ms = m ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) {
    throw Errors.headerInvalid(name, value, 'an ISO-8601 timestamp such as 2022-10-24T03:11:15Z');
  }
  return new Date(ms).toISOString();
}

/** The historical point of a retrieve, from Ditto's headers; undefined for a read of the present. */
export function historicalPoint(header: (name: string) => string | undefined): HistoricalPoint | undefined {
  const revision = header(AT_REVISION);
  const timestamp = header(AT_TIMESTAMP);
  if (revision !== undefined && timestamp !== undefined) {
    throw new DomainError(
      400,
      'header.invalid',
      `The headers '${AT_REVISION}' and '${AT_TIMESTAMP}' cannot be combined.`,
      'Give either a revision or a timestamp.',
    );
  }
  if (revision !== undefined) return { revision: parseRevision(revision, AT_REVISION) };
  if (timestamp !== undefined) return { timestamp: parseTimestamp(timestamp, AT_TIMESTAMP) };
  return undefined;
}

/** `at-historical-revision` / `at-historical-timestamp` of the request, if any. */
export const HistoricalAt = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): HistoricalPoint | undefined => {
    const req = ctx.switchToHttp().getRequest<Request>();
    return historicalPoint((name) => req.header(name));
  },
);
