import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import { readingProblem, readingTime, storableReading, telemetryPath, toRows } from './reading.js';
import type { TelemetryReading } from './telemetry.types.js';

const OK: TelemetryReading = {
  thingId: 'org.example:m-1',
  featureId: 'energy',
  path: 'status/level',
  ts: '2024-05-10T12:00:00.123456Z',
  seq: 7,
  value: { a: [1, 'x'] },
};

/** Why storableReading refuses the reading, or undefined. */
function problemOf(r: Parameters<typeof storableReading>[0]) {
  const checked = storableReading(r);
  return 'problem' in checked ? checked.problem : undefined;
}

describe('readings', () => {
  it('become rows with an explicit offset and JSON text', () => {
    expect(toRows([OK, { ...OK, ts: '2024-05-10T12:00:00', seq: null, value: undefined }])).toEqual([
      { ...OK, ts: '2024-05-10T12:00:00.123456Z', value: '{"a":[1,"x"]}' },
      { ...OK, ts: '2024-05-10T12:00:00Z', seq: null, value: 'null' },
    ]);
  });

  it.each([
    [{ thingId: 'nope' }, /thingId/],
    [{ featureId: '*' }, /featureId/],
    [{ featureId: 'a/b' }, /featureId/],
    [{ path: '' }, /path/],
    [{ path: '/power' }, /path/],
    [{ path: 'a//b' }, /path/],
    [{ ts: 'yesterday' }, /ts/],
    [{ ts: '2024-02-30T00:00:00Z' }, /ts/],
    [{ seq: -1 }, /seq/],
    [{ seq: 1.5 }, /seq/],
    [{ seq: 2 ** 53 }, /seq/],
    [{ value: 'a\u0000b' }, /NUL/],
    [{ value: { k: ['\uD800'] } }, /surrogate/],
    [{ value: { ['\uDC00']: 1 } }, /surrogate/],
    [{ value: Infinity }, /non-finite/],
    [{ value: { a: [1, NaN] } }, /non-finite/],
  ])('%p is refused', (change, why) => {
    expect(readingProblem({ ...OK, ...change })).toMatch(why);
  });

  it('tells a non-finite number apart, which would otherwise be stored as null', () => {
    expect(problemOf({ ...OK, value: [-Infinity] })).toEqual({
      message: 'value holds a non-finite number',
      nonFinite: true,
    });
    expect(problemOf({ ...OK, seq: 'x' })?.nonFinite).toBe(false);
  });

  it.each([
    [['status', 'level'], undefined],
    [['a~b'], undefined],
    [['a/b'], /path/],
    [['a', ''], /path/],
    [[], /path/],
  ])('a path given as keys %j', (path, why) => {
    const problem = problemOf({ ...OK, path })?.message;
    if (why) expect(problem).toMatch(why);
    else expect(problem).toBeUndefined();
  });

  it.each([
    [1_715_342_400_123, 1_715_342_400_123],
    ['2024-05-10T12:00:00.123Z', 1_715_342_400_123],
    ['2024-05-10T14:00:00.123+02:00', 1_715_342_400_123],
    [1.5, undefined],
    ['1715342400123', undefined],
    [true, undefined],
    [Infinity, undefined],
    [1e16, undefined],
    ['10000-01-01T00:00:00Z', undefined],
  ])('a device time %p is %p', (ts, ms) => {
    expect(readingTime(ts)).toBe(ms);
  });

  it('accepts paired surrogates and escaped tildes', () => {
    expect(readingProblem({ ...OK, path: 'a~0b', value: '🚀' })).toBeUndefined();
  });

  it('take the time as epoch milliseconds and the path as keys, as the MQTT ingest gives them', () => {
    expect(toRows([{ ...OK, ts: 1_715_342_400_123, path: ['status', 'a~b'] }])).toEqual([
      { ...OK, ts: '2024-05-10T12:00:00.123Z', path: 'status/a~0b', value: '{"a":[1,"x"]}' },
    ]);
    expect(readingProblem({ ...OK, ts: 1.5 })).toMatch(/ts/);
    expect(readingProblem({ ...OK, ts: 253402300800000 })).toMatch(/ts/);
  });

  it('a bad reading fails the whole call with its index', () => {
    expect(() => toRows([OK, { ...OK, seq: -5 }])).toThrow(DomainError);
    expect(() => toRows([OK, { ...OK, seq: -5 }])).toThrow(/reading #1/);
  });

  it('telemetryPath escapes ~ as a JSON pointer does', () => {
    expect(telemetryPath(['status', 'a~b'])).toBe('status/a~0b');
  });
});
