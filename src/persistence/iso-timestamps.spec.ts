import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import pg from 'pg';
import { isoTimestamp } from './iso-timestamps.js';

/** What the repositories made of a timestamptz before: the driver's Date, formatted. */
const viaDate = (text: string): string =>
  (pg.types.getTypeParser(1184, 'text') as (t: string) => Date)(text).toISOString();

/** PostgreSQL's text output of a timestamptz in a session at `offset` (e.g. +00, +05:30, -08). */
function pgText(ms: number, micros: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  // PostgreSQL prints microseconds without trailing zeros, and no fraction for whole seconds.
  const us = (local.getUTCMilliseconds() * 1000 + micros).toString().padStart(6, '0').replace(/0+$/, '');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const zone = `${sign}${pad(Math.floor(abs / 60))}${abs % 60 ? `:${pad(abs % 60)}` : ''}`;
  return `${date} ${time}${us ? `.${us}` : ''}${zone}`;
}

describe('isoTimestamp', () => {
  it('reads every millisecond of a UTC session as the Date it used to build would print it', () => {
    for (let ms = 0; ms < 1000; ms++) {
      const text = pgText(Date.UTC(2026, 11, 7, 13, 45, 9, ms), 0, 0);
      expect(isoTimestamp(text)).toBe(viaDate(text));
    }
    expect(isoTimestamp('2026-12-07 13:45:09+00')).toBe('2026-12-07T13:45:09.000Z');
    expect(isoTimestamp('2026-12-07 13:45:09.5+00')).toBe('2026-12-07T13:45:09.500Z');
    expect(isoTimestamp('2026-12-07 13:45:09.123999+00')).toBe('2026-12-07T13:45:09.123Z');
  });

  it('agrees with the driver for any instant, precision and session time zone', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1000, 0, 2), max: Date.UTC(9999, 11, 30) }),
        fc.integer({ min: 0, max: 999 }),
        fc.constantFrom(0, 0, 330, -480, -210, 345, 840, -720, 60),
        (ms, micros, offset) => {
          const text = pgText(ms, micros, offset);
          expect(isoTimestamp(text)).toBe(viaDate(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('leaves what is not a plain UTC instant to the driver', () => {
    for (const text of [
      '0999-03-01 10:00:00+00',
      '12026-03-01 10:00:00+00',
      '2026-03-01 10:00:00+00 BC',
      '2026-03-01 10:00:00+05:30',
      '2026-03-01 10:00:00-00:30',
    ]) {
      expect(isoTimestamp(text)).toBe(viaDate(text));
    }
  });
});
