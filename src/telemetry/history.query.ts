import { thingAddress } from '../twins/http/request-context.js';
import { validateFeatureId, validatePointerKeys } from '../twins/model/identifiers.js';
import { parseThingId } from '../twins/model/thing-id.js';
import { decodeCursor } from './history.cursor.js';
import { telemetryPath } from './reading.js';
import { TelemetryErrors } from './telemetry.errors.js';
import { HISTORY_AGGS, type HistoryAgg, type PointKey, type PropertyRef } from './telemetry.types.js';
import { MIN_INSTANT_MS, parseInstantParam, parseStep, type Instant } from './time.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;
export const MAX_BUCKETS = 10_000;
export const DEFAULT_RANGE_MS = 24 * 3_600_000;

interface Range {
  from: Instant;
  /** Exclusive. */
  to: Instant;
}

export type HistoryQuery =
  | (Range & { kind: 'points'; limit: number; after?: PointKey })
  | (Range & { kind: 'buckets'; step: string; stepMs: number; agg: HistoryAgg });

const KNOWN = new Set(['from', 'to', 'step', 'agg', 'limit', 'cursor']);

/**
 * The property of `GET /api/2/things/{thingId}/features/{featureId}/properties/{path}/history`,
 * read from the raw URL path as the things controller reads it (`%2F` is not a separator).
 */
export function historyAddress(rawPath: string): PropertyRef {
  const { thingId, path } = thingAddress(rawPath);
  parseThingId(thingId);
  // The route guarantees features/<id>/properties/<at least one key>/history.
  const featureId = path[1];
  const property = path.slice(3, -1);
  validateFeatureId(featureId);
  validatePointerKeys(property);
  return { thingId, featureId, path: telemetryPath(property) };
}

/** The query string of a history request; every mistake is a 400 telemetry:query.invalid. */
export function parseHistoryQuery(
  ref: PropertyRef,
  query: Record<string, unknown>,
  nowMs: number,
): HistoryQuery {
  const p: Record<string, string | undefined> = {};
  for (const key of KNOWN) {
    const v = query[key];
    if (v !== undefined && typeof v !== 'string')
      throw invalid(`The parameter '${key}' must be given once, as a plain value.`);
    p[key] = v;
  }
  const range = parseRange(p.from, p.to, nowMs);
  if (p.step === undefined) {
    if (p.agg !== undefined)
      throw invalid("The parameter 'agg' needs 'step': raw points are not aggregated.");
    return {
      kind: 'points',
      ...range,
      limit: parseLimit(p.limit),
      after: p.cursor === undefined ? undefined : decodeCursor(p.cursor, ref),
    };
  }
  if (p.limit !== undefined || p.cursor !== undefined)
    throw invalid(
      "The parameters 'limit' and 'cursor' page raw points; they cannot be combined with 'step'.",
    );
  const step = parseStep(p.step);
  if ('problem' in step) throw invalid(`The step '${p.step}' is invalid: ${step.problem}.`);
  const agg = p.agg ?? 'avg';
  if (!isAgg(agg))
    throw invalid(`The aggregation '${agg}' is unknown: use one of ${HISTORY_AGGS.join(', ')}.`);
  const buckets = bucketCount(range, step.ms);
  if (buckets > MAX_BUCKETS)
    throw invalid(
      `The range from ${range.from.sql} to ${range.to.sql} in steps of ${p.step} has ${buckets} buckets; at most ${MAX_BUCKETS} are allowed. Use a larger step or a shorter range.`,
    );
  return { kind: 'buckets', ...range, step: p.step, stepMs: step.ms, agg };
}

/**
 * Buckets start at multiples of the step since the Unix epoch (UTC), the origin the SQL gives
 * date_bin, so the first and last bucket may reach outside [from, to).
 */
export function bucketCount(range: Range, stepMs: number): number {
  return Math.floor((range.to.ms - 1) / stepMs) - Math.floor(range.from.ms / stepMs) + 1;
}

function parseRange(fromText: string | undefined, toText: string | undefined, nowMs: number): Range {
  const to = toText === undefined ? instantOf(nowMs) : instant('to', toText);
  const from =
    fromText === undefined
      ? instantOf(Math.max(to.ms - DEFAULT_RANGE_MS, MIN_INSTANT_MS))
      : instant('from', fromText);
  if (from.ms >= to.ms) throw invalid(`'from' (${from.sql}) must be before 'to' (${to.sql}).`);
  return { from, to };
}

function instant(name: string, text: string): Instant {
  const parsed = parseInstantParam(text);
  if (!parsed)
    throw invalid(
      `The parameter '${name}' ('${text}') is neither an ISO 8601 instant such as 2024-05-01T12:00:00Z nor epoch milliseconds (years 1 to 9999).`,
    );
  return parsed;
}

function instantOf(ms: number): Instant {
  return { ms, sql: new Date(ms).toISOString() };
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  const n = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT))
    throw invalid(`The limit '${text}' must be an integer from 1 to ${MAX_LIMIT}.`);
  return n;
}

function isAgg(agg: string): agg is HistoryAgg {
  return (HISTORY_AGGS as readonly string[]).includes(agg);
}

function invalid(message: string) {
  return TelemetryErrors.queryInvalid(message);
}
