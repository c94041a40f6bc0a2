import pg from 'pg';

const TIMESTAMPTZ = 1184;
const parseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => Date;

/**
 * A `timestamptz` as PostgreSQL sends it, as JavaScript's ISO string (`Date#toISOString`: UTC,
 * milliseconds). The driver's parser matches regular expressions and builds a Date, which the
 * repositories then formatted again; a thing read (and every row of a search page) has two. In a UTC session the text is already the ISO string in another layout, so it is
 * rearranged; anything else (another session time zone, years outside 1000–9999, BC) goes the
 * driver's way. Fractions are cut to milliseconds as `Date` does.
 */
export function isoTimestamp(text: string): string {
  const n = text.length;
  // 2026-12-07 13:45:00[.f{1,6}]+00
  if (
    n >= 22 &&
    n <= 29 &&
    text.charCodeAt(4) === 45 &&
    text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 32 &&
    text.charCodeAt(13) === 58 &&
    text.charCodeAt(16) === 58 &&
    text.endsWith('+00') &&
    text.charCodeAt(0) !== 48
  ) {
    const fraction = n === 22 ? '' : text.slice(19, n - 3);
    if (fraction === '' || (fraction.charCodeAt(0) === 46 && fraction.length >= 2)) {
      const ms = (fraction.slice(1) + '000').slice(0, 3);
      return `${text.slice(0, 10)}T${text.slice(11, 19)}.${ms}Z`;
    }
  }
  return parseTimestamptz(text).toISOString();
}

/** Type parsers for a query whose timestamptz columns the caller wants as ISO strings. */
export const ISO_TIMESTAMP_TYPES = {
  getTypeParser: (oid: number, format?: 'text' | 'binary'): ((value: string) => unknown) =>
    oid === TIMESTAMPTZ && format !== 'binary'
      ? isoTimestamp
      : (pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown),
};
