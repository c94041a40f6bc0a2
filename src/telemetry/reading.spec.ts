import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import { readingProblem, telemetryPath, toRows } from './reading.js';
import type { TelemetryReading } from './telemetry.types.js';

const OK: TelemetryReading = {
  thingId: 'org.example:m-1',
  featureId: 'energy',
  path: 'status/level',
  ts: '2024-05-10T12:00:00.123456Z',
  seq: 7,
  value: { a: [1, 'x'] },
};

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
  ])('%j is refused', (change, why) => {
    expect(readingProblem({ ...OK, ...change })).toMatch(why);
  });

  it('accepts paired surrogates and escaped tildes', () => {
    expect(readingProblem({ ...OK, path: 'a~0b', value: '🚀' })).toBeUndefined();
  });

  it('a bad reading fails the whole call with its index', () => {
    expect(() => toRows([OK, { ...OK, seq: -5 }])).toThrow(DomainError);
    expect(() => toRows([OK, { ...OK, seq: -5 }])).toThrow(/reading #1/);
  });

  it('telemetryPath escapes ~ as a JSON pointer does', () => {
    expect(telemetryPath(['status', 'a~b'])).toBe('status/a~0b');
  });
});
