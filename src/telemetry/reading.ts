import { isValidKey } from '../twins/model/identifiers.js';
import { isValidThingId } from '../twins/model/thing-id.js';
import { TelemetryErrors } from './telemetry.errors.js';
import { isoOfMs, parseIsoInstant } from './time.js';
import type { TelemetryReading } from './telemetry.types.js';

/**
 * What a reading is, in one place: the store checks every reading with these rules, and the
 * MQTT ingest applies the same ones to a device message (field by field, as it decodes it)
 * to dead-letter what could not be stored.
 */

/** A reading as it goes into SQL: the time with an explicit offset and the value as JSON text. */
export interface TelemetryRow {
  thingId: string;
  featureId: string;
  path: string;
  ts: string;
  seq: number | null;
  value: string;
}

/** Why a reading cannot be stored; `nonFinite` when the value holds NaN or ±Infinity. */
export interface ReadingProblem {
  message: string;
  nonFinite: boolean;
}

/** The stored path of a property: its JSON pointer without the leading slash. */
export function telemetryPath(segments: readonly string[]): string {
  return segments.map((s) => s.replaceAll('~', '~0')).join('/');
}

export function thingIdProblem(thingId: unknown): string | undefined {
  return typeof thingId === 'string' && isValidThingId(thingId)
    ? undefined
    : `thingId ${JSON.stringify(thingId)} is not valid`;
}

export function featureIdProblem(featureId: unknown): string | undefined {
  // `*` is the feature wildcard of field selectors, so no feature can be called that.
  return typeof featureId === 'string' && featureId !== '*' && isValidKey(featureId)
    ? undefined
    : `featureId ${JSON.stringify(featureId)} is not valid`;
}

/** A property path: the stored pointer (`status/level`, `~0` for `~`) or its keys (`['status', 'level']`). */
export function pathProblem(path: unknown): string | undefined {
  const keys =
    typeof path === 'string'
      ? path.split('/').map((s) => s.replaceAll('~0', '~'))
      : Array.isArray(path) && path.length > 0
        ? (path as unknown[])
        : undefined;
  return keys?.every((k) => typeof k === 'string' && isValidKey(k))
    ? undefined
    : `path ${JSON.stringify(path)} is not a property pointer such as power or status/level`;
}

export function tsProblem(ts: unknown): string | undefined {
  return typeof ts === 'string' && parseIsoInstant(ts) !== undefined
    ? undefined
    : `ts ${JSON.stringify(ts)} is not an ISO 8601 instant between the years 1 and 9999`;
}

export function seqProblem(seq: unknown): string | undefined {
  // Non-negative, so the -1 that stands for "no seq" in the dedup key can never be a real one.
  return seq === null || (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0)
    ? undefined
    : `seq ${JSON.stringify(seq)} is neither null nor a non-negative integer`;
}

export function valueProblem(value: unknown): ReadingProblem | undefined {
  // JSON.parse reads 1e400 as Infinity, and JSON.stringify would store it as null.
  if (hasNonFiniteNumber(value)) return { message: 'value holds a non-finite number', nonFinite: true };
  if (!jsonbStorable(value)) {
    return { message: 'value holds a string with a NUL character or a lone surrogate', nonFinite: false };
  }
  return undefined;
}

/**
 * The device time of a reading as epoch milliseconds: an integer of epoch milliseconds or an
 * ISO 8601 instant, within the years 1 to 9999 that the store can hold; else undefined.
 */
export function readingTime(ts: unknown): number | undefined {
  if (typeof ts === 'number') {
    return Number.isSafeInteger(ts) && Math.abs(ts) <= 8.64e15 && parseIsoInstant(isoOfMs(ts))
      ? ts
      : undefined;
  }
  if (typeof ts === 'string') return parseIsoInstant(ts)?.ms;
  return undefined;
}

/** Why the reading cannot be stored, or undefined; fields are checked whatever their static type. */
export function checkReading(r: { [K in keyof TelemetryReading]: unknown }): ReadingProblem | undefined {
  const problem =
    thingIdProblem(r.thingId) ??
    featureIdProblem(r.featureId) ??
    pathProblem(r.path) ??
    tsProblem(r.ts) ??
    seqProblem(r.seq);
  return problem === undefined ? valueProblem(r.value) : { message: problem, nonFinite: false };
}

/**
 * Why the reading cannot be stored, or undefined. insertNew checks every reading so a bad one
 * never reaches SQL, where it would abort the caller's whole transaction.
 */
export function readingProblem(r: TelemetryReading): string | undefined {
  return checkReading(r)?.message;
}

/** Throws telemetry:reading.invalid for the first bad reading; else the rows to insert. */
export function toRows(readings: readonly TelemetryReading[]): TelemetryRow[] {
  return readings.map((r, i) => {
    const problem = readingProblem(r);
    if (problem !== undefined) throw TelemetryErrors.readingInvalid(i, problem);
    return {
      thingId: r.thingId,
      featureId: r.featureId,
      path: r.path,
      ts: parseIsoInstant(r.ts)!.sql,
      seq: r.seq,
      // undefined is not JSON; a reading without a value is stored as null.
      value: JSON.stringify(r.value === undefined ? null : r.value),
    };
  });
}

/** NaN or ±Infinity anywhere in a JSON-like value. */
export function hasNonFiniteNumber(value: unknown): boolean {
  // An explicit stack: a device payload can nest deeper than the call stack allows.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'number' && !Number.isFinite(v)) return true;
    if (typeof v === 'object' && v !== null) for (const child of Object.values(v)) stack.push(child);
  }
  return false;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** jsonb refuses \u0000 and unpaired surrogates, which JavaScript strings may hold. */
function jsonbStorable(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v) || v.includes('\u0000')) return false;
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, child] of Object.entries(v)) stack.push(k, child);
    }
  }
  return true;
}
