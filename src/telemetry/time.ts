/**
 * Instants and durations as the telemetry API accepts them. Parsing is strict on purpose:
 * `Date.parse` accepts almost anything (`"1"` is the year 2001, `"2024-02-31"` rolls over)
 * and PostgreSQL reads an offset-less time in the session's time zone, so every value that
 * reaches SQL has been checked here and carries an explicit offset.
 */

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: four-digit years, as both ISO and PostgreSQL read them. */
export const MIN_INSTANT_MS = -62135596800000;
export const MAX_INSTANT_MS = 253402300799999;

export interface Instant {
  /** Milliseconds since the epoch (sub-millisecond digits truncated). */
  ms: number;
  /** For PostgreSQL: the full precision the client gave, always with an explicit offset. */
  sql: string;
}

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** ISO 8601 date or date-time; without an offset it is UTC. */
export function parseIsoInstant(text: string): Instant | undefined {
  const m = ISO_INSTANT.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : normalizeOffset(zone);
  if (offset === undefined) return undefined;
  const base = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
  const ms = Date.parse(`${base}.${frac.padEnd(3, '0').slice(0, 3)}${offset}`);
  if (!inRange(ms)) return undefined;
  return { ms, sql: `${base}${frac ? `.${frac}` : ''}${offset}` };
}

/** An ISO 8601 instant or an integer of epoch milliseconds. */
export function parseInstantParam(text: string): Instant | undefined {
  if (/^-?\d{1,16}$/.test(text)) {
    const ms = Number(text);
    return inRange(ms) ? { ms, sql: new Date(ms).toISOString() } : undefined;
  }
  return parseIsoInstant(text);
}

export function isoOfMs(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * PostgreSQL's exact `YYYY-MM-DDTHH:MM:SS.ffffffZ` for display: milliseconds when the
 * microseconds add nothing (the common case, and what JavaScript prints), else all six digits.
 */
export function displayInstant(exact: string): string {
  return exact.replace(/\.(\d{3})000Z$/, '.$1Z');
}

function normalizeOffset(zone: string): string | undefined {
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!m) return undefined;
  const [, sign, hh, mm = '00'] = m;
  if (Number(hh) > 14 || Number(mm) > 59) return undefined;
  return `${sign}${hh}:${mm}`;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1];
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function inRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS;
}

/** The longest step the history accepts; longer ones would be a single bucket anyway. */
export const MAX_STEP_MS = 36500 * 86_400_000;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * A fixed-length step in milliseconds: `500ms`, `30s`, `15m`, `1h`, `1d`, `1w`, or an ISO 8601
 * duration (`PT5M`, `P1DT12H`, `PT0.5S`). Months and years have no fixed length, so `P1M` is
 * refused rather than guessed. Returns a reason when the text is not a usable step.
 */
export function parseStep(text: string): { ms: number } | { problem: string } {
  const short = /^(\d{1,15})(ms|s|m|h|d|w)$/.exec(text);
  let ms: number;
  if (short) {
    ms = Number(short[1]) * UNIT_MS[short[2]];
  } else {
    const iso =
      /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{1,3}))?S)?)?$/i.exec(
        text,
      );
    if (!iso || text.length < 3 || /T$/i.test(text)) {
      return {
        problem:
          'use a number with a unit (ms, s, m, h, d, w), e.g. 15m, or an ISO 8601 duration such as PT5M',
      };
    }
    const [, years, months, weeks, days, hours, minutes, seconds, fraction] = iso;
    if (years !== undefined || months !== undefined) {
      return {
        problem: 'months and years have no fixed length; give the step in weeks, days or smaller units',
      };
    }
    ms =
      Number(weeks ?? 0) * UNIT_MS.w +
      Number(days ?? 0) * UNIT_MS.d +
      Number(hours ?? 0) * UNIT_MS.h +
      Number(minutes ?? 0) * UNIT_MS.m +
      Number(seconds ?? 0) * UNIT_MS.s +
      Number((fraction ?? '').padEnd(3, '0'));
  }
  if (!Number.isSafeInteger(ms) || ms < 1) return { problem: 'it must be at least one millisecond' };
  if (ms > MAX_STEP_MS) return { problem: 'it must not exceed 36500 days' };
  return { ms };
}
