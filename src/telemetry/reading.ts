import { isValidKey } from '../twins/model/identifiers.js';
import { parseThingId } from '../twins/model/thing-id.js';
import { TelemetryErrors } from './telemetry.errors.js';
import { parseIsoInstant } from './time.js';
import type { TelemetryReading } from './telemetry.types.js';

/** A reading as it goes into SQL: the time with an explicit offset and the value as JSON text. */
export interface TelemetryRow {
  thingId: string;
  featureId: string;
  path: string;
  ts: string;
  seq: number | null;
  value: string;
}

/** The stored path of a property: its JSON pointer without the leading slash. */
export function telemetryPath(segments: readonly string[]): string {
  return segments.map((s) => s.replaceAll('~', '~0')).join('/');
}

/**
 * Why the reading cannot be stored, or undefined. The ingest can call this per reading to
 * dead-letter bad ones before its batch; insertNew checks again so a bad reading never reaches
 * SQL, where it would abort the caller's whole transaction.
 */
export function readingProblem(r: TelemetryReading): string | undefined {
  if (typeof r.thingId !== 'string' || !isThingId(r.thingId))
    return `thingId ${JSON.stringify(r.thingId)} is not valid`;
  if (typeof r.featureId !== 'string' || r.featureId === '*' || !isValidKey(r.featureId))
    return `featureId ${JSON.stringify(r.featureId)} is not valid`;
  if (typeof r.path !== 'string' || !r.path.split('/').every((s) => isValidKey(s.replaceAll('~0', '~'))))
    return `path ${JSON.stringify(r.path)} is not a property pointer such as power or status/level`;
  if (typeof r.ts !== 'string' || parseIsoInstant(r.ts) === undefined)
    return `ts ${JSON.stringify(r.ts)} is not an ISO 8601 instant between the years 1 and 9999`;
  // Non-negative, so the -1 that stands for "no seq" in the dedup key can never be a real one.
  if (r.seq !== null && !(Number.isSafeInteger(r.seq) && r.seq >= 0))
    return `seq ${JSON.stringify(r.seq)} is neither null nor a non-negative integer`;
  if (!jsonbStorable(r.value)) return 'value holds a string with a NUL character or a lone surrogate';
  return undefined;
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

function isThingId(id: string): boolean {
  try {
    parseThingId(id);
    return true;
  } catch {
    return false;
  }
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
