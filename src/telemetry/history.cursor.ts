import { createHash } from 'node:crypto';
import { TelemetryErrors } from './telemetry.errors.js';
import { parseIsoInstant } from './time.js';
import type { PointKey, PropertyRef } from './telemetry.types.js';

/**
 * Keyset cursors for raw points: base64url JSON of the last point's exact (ts, seq) and a hash
 * of whose history it pages. from/to are not part of it, so a client that lets `to` default to
 * now keeps paging forward. A forged cursor only moves the start: both values are checked to
 * be castable before they reach SQL.
 */

const EXACT_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const INT8 = /^-?\d{1,19}$/;
const INT8_MAX = 9223372036854775807n;

function scopeOf(ref: PropertyRef): string {
  return createHash('sha256')
    .update(JSON.stringify([ref.thingId, ref.featureId, ref.path]))
    .digest('base64url')
    .slice(0, 16);
}

export function encodeCursor(ref: PropertyRef, key: PointKey): string {
  return Buffer.from(JSON.stringify({ h: scopeOf(ref), t: key.ts, s: key.seq })).toString('base64url');
}

export function decodeCursor(cursor: string, ref: PropertyRef): PointKey {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid('it could not be decoded');
  }
  if (typeof payload !== 'object' || payload === null) throw invalid('it could not be decoded');
  const { h, t, s } = payload as { h?: unknown; t?: unknown; s?: unknown };
  if (typeof h !== 'string' || typeof t !== 'string' || typeof s !== 'string')
    throw invalid('it could not be decoded');
  if (h !== scopeOf(ref)) throw invalid("it belongs to another property's history");
  if (
    !EXACT_TS.test(t) ||
    parseIsoInstant(t) === undefined ||
    !INT8.test(s) ||
    BigInt(s) > INT8_MAX ||
    BigInt(s) < -1n
  )
    throw invalid('it holds a bad position');
  return { ts: t, seq: s };
}

function invalid(why: string) {
  return TelemetryErrors.queryInvalid(
    `The cursor is invalid: ${why}. Use the cursor of the previous page as it was returned.`,
  );
}
