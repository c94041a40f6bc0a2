import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import { decodeCursor, encodeCursor } from './history.cursor.js';
import { bucketCount, historyAddress, parseHistoryQuery, type HistoryQuery } from './history.query.js';

const REF = { thingId: 'org.example:m-1', featureId: 'energy', path: 'power' };
const NOW = Date.parse('2024-05-10T12:00:00Z');

function parse(query: Record<string, unknown>): HistoryQuery {
  return parseHistoryQuery(REF, query, NOW);
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return `${err.status} ${err.code}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

describe('historyAddress', () => {
  it('reads thing, feature and a property path of several segments', () => {
    expect(
      historyAddress('/api/2/things/org.example:m-1/features/energy/properties/status/level/history'),
    ).toEqual({ thingId: 'org.example:m-1', featureId: 'energy', path: 'status/level' });
  });

  it('decodes segments and escapes ~ in the stored path', () => {
    expect(
      historyAddress('/api/2/things/org.example:m%201/features/e/properties/a~0b/c%20d/history'),
    ).toEqual({
      thingId: 'org.example:m 1',
      featureId: 'e',
      path: 'a~0b/c d',
    });
  });

  it.each([
    ['/api/2/things/no-namespace/features/e/properties/p/history', '400 things:id.invalid'],
    ['/api/2/things/org.example:m/features/*/properties/p/history', '400 json.key.invalid'],
    ['/api/2/things/org.example:m/features/e/properties/a%2Fb/history', '400 json.pointer.invalid'],
    ['/api/2/things/org.example:m/features/e/properties/a//b/history', '400 json.pointer.invalid'],
    ['/api/2/things/org.example:m/features/e/properties/%01/history', '400 json.key.invalid'],
  ])('%s → %s', (path, expected) => {
    expect(errorOf(() => historyAddress(path))).toMatch(new RegExp(`^${expected.replace(/[.*]/g, '\\$&')}`));
  });
});

describe('parseHistoryQuery', () => {
  it('defaults to the last 24 hours of raw points, 100 per page', () => {
    expect(parse({})).toEqual({
      kind: 'points',
      from: { ms: NOW - 86_400_000, sql: '2024-05-09T12:00:00.000Z' },
      to: { ms: NOW, sql: '2024-05-10T12:00:00.000Z' },
      limit: 100,
      after: undefined,
    });
  });

  it('takes from 24 hours before an explicit to', () => {
    const q = parse({ to: '2024-01-02T00:00:00Z' });
    expect(q.from.sql).toBe('2024-01-01T00:00:00.000Z');
  });

  it('reads buckets with step and agg (avg by default) and ignores unknown parameters', () => {
    expect(parse({ from: '2024-05-10T00:00:00Z', step: '15m', x: 'y' })).toMatchObject({
      kind: 'buckets',
      step: '15m',
      stepMs: 900_000,
      agg: 'avg',
    });
    expect(parse({ from: '1715299200000', step: 'PT1H', agg: 'last' })).toMatchObject({
      agg: 'last',
      stepMs: 3_600_000,
    });
  });

  it('decodes a cursor of the same property', () => {
    const cursor = encodeCursor(REF, { ts: '2024-05-10T01:02:03.456789Z', seq: '-1' });
    const q = parse({ cursor, limit: '10000' });
    expect(q).toMatchObject({
      kind: 'points',
      limit: 10000,
      after: { ts: '2024-05-10T01:02:03.456789Z', seq: '-1' },
    });
  });

  it('counts buckets aligned on the epoch', () => {
    const at = (iso: string) => ({ ms: Date.parse(iso), sql: iso });
    expect(bucketCount({ from: at('2024-01-01T00:00:00Z'), to: at('2024-01-01T01:00:00Z') }, 900_000)).toBe(
      4,
    );
    expect(bucketCount({ from: at('2024-01-01T00:07:00Z'), to: at('2024-01-01T01:07:00Z') }, 900_000)).toBe(
      5,
    );
  });

  it.each([
    [{ from: 'yesterday' }, /'from' \('yesterday'\) is neither/],
    [{ to: '2024-02-30T00:00:00Z' }, /'to'/],
    [{ from: '2024-05-10T12:00:00Z' }, /must be before 'to'/],
    [{ from: '2024-05-10T00:00:00Z', to: '2024-05-09T00:00:00Z' }, /must be before/],
    [{ from: ['2024-05-10T00:00:00Z', '2024-05-09T00:00:00Z'] }, /'from' must be given once/],
    [{ step: 'fast' }, /The step 'fast' is invalid/],
    [{ step: 'P1M' }, /months and years/],
    [{ step: '1h', agg: 'median' }, /'median' is unknown/],
    [{ agg: 'avg' }, /'agg' needs 'step'/],
    [{ step: '1h', limit: '5' }, /cannot be combined with 'step'/],
    [{ step: '1h', cursor: 'x' }, /cannot be combined/],
    [{ step: '1s', from: '2024-05-01T00:00:00Z' }, /at most 10000 are allowed/],
    [{ limit: '0' }, /limit '0' must be an integer from 1 to 10000/],
    [{ limit: '10001' }, /from 1 to 10000/],
    [{ limit: '1.5' }, /from 1 to 10000/],
    [{ limit: '' }, /from 1 to 10000/],
    [{ cursor: 'not base64 json' }, /cursor is invalid: it could not be decoded/],
    [
      { cursor: encodeCursor({ ...REF, path: 'other' }, { ts: '2024-05-10T00:00:00.000000Z', seq: '1' }) },
      /another property/,
    ],
    [{ cursor: encodeCursor(REF, { ts: '2024-02-30T00:00:00.000000Z', seq: '1' }) }, /bad position/],
    [
      { cursor: encodeCursor(REF, { ts: '2024-05-10T00:00:00.000000Z', seq: '99999999999999999999' }) },
      /bad position/,
    ],
    [
      { cursor: encodeCursor(REF, { ts: "2024-05-10'; DROP TABLE telemetry; --", seq: '1' }) },
      /bad position/,
    ],
  ])('%j → 400 telemetry:query.invalid', (query, message) => {
    const error = errorOf(() => parse(query));
    expect(error).toMatch(/^400 telemetry:query\.invalid: /);
    expect(error).toMatch(message);
  });

  it('a cursor round-trips', () => {
    const key = { ts: '2024-05-10T01:02:03.000000Z', seq: '42' };
    expect(decodeCursor(encodeCursor(REF, key), REF)).toEqual(key);
  });
});
