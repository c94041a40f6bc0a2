import { describe, expect, it } from '@jest/globals';
import { displayInstant, parseInstantParam, parseIsoInstant, parseStep } from './time.js';

describe('parseIsoInstant', () => {
  it.each([
    ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01', '2024-05-01T00:00:00Z', '2024-05-01T00:00:00.000Z'],
    ['2024-05-01T12:00', '2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T12:00:00.123456Z', '2024-05-01T12:00:00.123456Z', '2024-05-01T12:00:00.123Z'],
    ['2024-05-01T14:00:00+02:00', '2024-05-01T14:00:00+02:00', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T14:00:00+0200', '2024-05-01T14:00:00+02:00', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T07:00:00-05', '2024-05-01T07:00:00-05:00', '2024-05-01T12:00:00.000Z'],
    ['2024-02-29T00:00:00z', '2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ])('%s → sql %s', (text, sql, iso) => {
    const parsed = parseIsoInstant(text)!;
    expect(parsed.sql).toBe(sql);
    expect(new Date(parsed.ms).toISOString()).toBe(iso);
  });

  it.each([
    '2023-02-29',
    '2024-02-31T00:00:00Z',
    '2024-13-01',
    '2024-05-01T24:00:00Z',
    '2024-05-01T12:60:00Z',
    '2024-05-01T12:00:61Z',
    '2024-05-01T12:00:00+15:00',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:00:00-05:00',
    '24-05-01',
    '2024-5-1',
    'May 1 2024',
    '1',
    '',
    '2024-05-01T12:00:00ZZ',
  ])('refuses %j', (text) => {
    expect(parseIsoInstant(text)).toBeUndefined();
  });
});

describe('parseInstantParam', () => {
  it('reads epoch milliseconds', () => {
    expect(parseInstantParam('1714564800000')).toEqual({
      ms: 1714564800000,
      sql: '2024-05-01T12:00:00.000Z',
    });
    expect(parseInstantParam('0')!.sql).toBe('1970-01-01T00:00:00.000Z');
    expect(parseInstantParam('-1000')!.sql).toBe('1969-12-31T23:59:59.000Z');
  });

  it('refuses epoch milliseconds outside the years 1 to 9999 and non-integers', () => {
    expect(parseInstantParam('253402300800000')).toBeUndefined();
    expect(parseInstantParam('-62135596800001')).toBeUndefined();
    expect(parseInstantParam('1.5')).toBeUndefined();
    expect(parseInstantParam('1e12')).toBeUndefined();
  });
});

describe('displayInstant', () => {
  it('keeps milliseconds unless microseconds matter', () => {
    expect(displayInstant('2024-05-01T12:00:00.123000Z')).toBe('2024-05-01T12:00:00.123Z');
    expect(displayInstant('2024-05-01T12:00:00.123456Z')).toBe('2024-05-01T12:00:00.123456Z');
  });
});

describe('parseStep', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1m', 60_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['2w', 1_209_600_000],
    ['PT5M', 300_000],
    ['pt5m', 300_000],
    ['PT0.5S', 500],
    ['PT1H30M', 5_400_000],
    ['P1D', 86_400_000],
    ['P1DT12H', 129_600_000],
    ['P1W', 604_800_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseStep(text)).toEqual({ ms });
  });

  it.each([
    ['P1M', /months and years/],
    ['P1Y', /months and years/],
    ['0m', /at least one millisecond/],
    ['PT0S', /at least one millisecond/],
    ['36501d', /36500 days/],
    ['P', /ISO 8601/],
    ['PT', /ISO 8601/],
    ['P1DT', /ISO 8601/],
    ['15', /ISO 8601/],
    ['15M', /ISO 8601/],
    ['1.5h', /ISO 8601/],
    ['-1h', /ISO 8601/],
    ['PT0.0001S', /ISO 8601/],
  ])('refuses %s', (text, why) => {
    const result = parseStep(text);
    expect('problem' in result && result.problem).toMatch(why);
  });
});
