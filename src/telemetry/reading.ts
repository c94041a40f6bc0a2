import { isValidKey } from '../twins/model/identifiers.js';
import { isValidThingId } from '../twins/model/thing-id.js';
import { TelemetryErrors } from './telemetry.errors.js';
import type { TelemetryReading } from './telemetry.types.js';
import { isoOfMs, MAX_INSTANT_MS, MIN_INSTANT_MS, parseIsoInstant } from './time.js';

/**
 * What a reading is, in one place: only storableReading makes the rows the store takes, so every
 * reading that reaches SQL passed these rules, once. The MQTT ingest makes its rows with it as
 * it decodes a device message, and dead-letters the message when a reading is refused.
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

declare const checked: unique symbol;
/** A row made by storableReading; the store takes nothing else. */
export type StorableReading = TelemetryRow & { readonly [checked]: true };

/** Why a reading cannot be stored; `nonFinite` when the value holds NaN or ±Infinity. */
export interface ReadingProblem {
  message: string;
  nonFinite: boolean;
}

/** The stored path of a property: its JSON pointer without the leading slash. */
export function telemetryPath(segments: readonly string[]): string {
  return segments.length === 1 && !segments[0].includes('~')
    ? segments[0]
    : segments.map((s) => s.replaceAll('~', '~0')).join('/');
}

function thingIdProblem(thingId: unknown): string | undefined {
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

/** The property's keys, from keys or from the stored pointer (`status/level`, `~0` for `~`). */
function pathKeys(path: unknown): unknown[] | undefined {
  if (typeof path === 'string') return path.split('/').map((s) => s.replaceAll('~0', '~'));
  return Array.isArray(path) && path.length > 0 ? (path as unknown[]) : undefined;
}

function pathProblem(path: unknown): string | undefined {
  return pathKeys(path)?.every((k) => typeof k === 'string' && isValidKey(k))
    ? undefined
    : `path ${JSON.stringify(path)} is not a property pointer such as power or status/level`;
}

function validMs(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS;
}

/** The instant as SQL gets it (explicit offset, full precision), or undefined. */
function sqlInstant(ts: unknown): string | undefined {
  if (typeof ts === 'number') return validMs(ts) ? isoOfMs(ts) : undefined;
  return typeof ts === 'string' ? parseIsoInstant(ts)?.sql : undefined;
}

export function seqProblem(seq: unknown): string | undefined {
  // Non-negative, so the -1 that stands for "no seq" in the dedup key can never be a real one.
  return seq === null || (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0)
    ? undefined
    : `seq ${JSON.stringify(seq)} is neither null nor a non-negative integer`;
}

function valueProblem(value: unknown): ReadingProblem | undefined {
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
  if (typeof ts === 'number') return validMs(ts) ? ts : undefined;
  if (typeof ts === 'string') return parseIsoInstant(ts)?.ms;
  return undefined;
}

/** The row to store, or why the reading cannot be stored; fields are checked whatever their static type. */
export function storableReading(r: { [K in keyof TelemetryReading]: unknown }):
  { row: StorableReading } | { problem: ReadingProblem } {
  const checked = storableReadings(r, [r]);
  return 'problem' in checked ? checked : { row: checked.rows[0] };
}

/**
 * The rows of readings that share a thing, a time and a seq (one device message): those are
 * checked and formatted once, the rest reading by reading. Stops at the first problem.
 */
export function storableReadings(
  common: { thingId: unknown; ts: unknown; seq: unknown },
  readings: readonly { featureId: unknown; path: unknown; value: unknown }[],
): { rows: StorableReading[] } | { problem: ReadingProblem } {
  const ts = sqlInstant(common.ts);
  const shared =
    thingIdProblem(common.thingId) ??
    (ts === undefined
      ? `ts ${JSON.stringify(common.ts)} is neither epoch milliseconds nor an ISO 8601 instant between the years 1 and 9999`
      : undefined) ??
    seqProblem(common.seq);
  if (shared !== undefined) return { problem: { message: shared, nonFinite: false } };
  const rows: StorableReading[] = [];
  let feature: unknown;
  for (const r of readings) {
    // A message's readings come feature by feature: each feature id is checked once.
    const problem =
      (r.featureId === feature ? undefined : featureIdProblem(r.featureId)) ?? pathProblem(r.path);
    if (problem !== undefined) return { problem: { message: problem, nonFinite: false } };
    feature = r.featureId;
    const bad = valueProblem(r.value);
    if (bad) return { problem: bad };
    const row: TelemetryRow = {
      thingId: common.thingId as string,
      featureId: r.featureId as string,
      path: typeof r.path === 'string' ? r.path : telemetryPath(r.path as string[]),
      ts: ts as string,
      seq: common.seq as number | null,
      // undefined is not JSON; a reading without a value is stored as null.
      value: JSON.stringify(r.value === undefined ? null : r.value),
    };
    rows.push(row as StorableReading);
  }
  return { rows };
}

/** Why the reading cannot be stored, or undefined. */
export function readingProblem(r: TelemetryReading): string | undefined {
  const checked = storableReading(r);
  return 'problem' in checked ? checked.problem.message : undefined;
}

/** Throws telemetry:reading.invalid for the first bad reading; else the rows to insert. */
export function toRows(readings: readonly TelemetryReading[]): StorableReading[] {
  return readings.map((r, i) => {
    const checked = storableReading(r);
    if ('problem' in checked) throw TelemetryErrors.readingInvalid(i, checked.problem.message);
    return checked.row;
  });
}

/** NaN or ±Infinity anywhere in a JSON-like value. */
function hasNonFiniteNumber(value: unknown): boolean {
  if (typeof value !== 'object' || value === null)
    return typeof value === 'number' && !Number.isFinite(value);
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
  if (typeof value !== 'object' || value === null) return typeof value !== 'string' || stringStorable(value);
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (!stringStorable(v)) return false;
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, child] of Object.entries(v)) stack.push(k, child);
    }
  }
  return true;
}

function stringStorable(s: string): boolean {
  return !s.includes('\u0000') && !LONE_SURROGATE.test(s);
}
