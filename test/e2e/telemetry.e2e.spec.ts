import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TransactionRunner } from '../../src/persistence/transaction.js';
import { TelemetryPartitionsService } from '../../src/telemetry/telemetry-partitions.service.js';
import type { HistoryAgg, TelemetryReading } from '../../src/telemetry/telemetry.types.js';
import { TelemetryService } from '../../src/telemetry/telemetry.service.js';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';

/**
 * The history API over HTTP: buckets checked against aggregates computed here from the same
 * readings, raw points paged with cursors, and the route's precedence over the things wildcard
 * (bad input: telemetry-bad-input.e2e.spec.ts).
 */

let t: TestApp;
const ID = 'org.example:meter-1';
const THING = `/api/2/things/${ID}`;
const POWER = `${THING}/features/energy/properties/power/history`;

/** A reading as the test knows it: exact time to the microsecond, for ordering and display. */
interface Known {
  exact: string;
  ms: number;
  seq: number | null;
  value: unknown;
}

const START = Date.parse('2024-03-01T22:00:00Z');
const readings: Known[] = [];

/** Deterministic numbers (mulberry32), so a failure can be reproduced. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function makeReadings(): Known[] {
  const random = rng(42);
  const out: Known[] = [];
  for (let i = 0; i < 500; i++) {
    // Every tenth reading shares the previous one's time: the seq breaks the tie.
    const ms = i % 10 === 5 ? out[i - 1].ms : START + i * 37_000 + Math.floor(random() * 1000);
    const micros =
      i % 11 === 0 && i % 10 !== 5 ? String(1 + Math.floor(random() * 999)).padStart(3, '0') : '000';
    const exact = i % 10 === 5 ? out[i - 1].exact : new Date(ms).toISOString().replace('Z', `${micros}Z`);
    const value =
      i % 13 === 0
        ? 'n/a'
        : i % 17 === 0
          ? null
          : i % 19 === 0
            ? { v: 1 }
            : i % 23 === 0
              ? true
              : Math.round(random() * 20000 - 5000) / 100;
    out.push({ exact, ms, seq: i % 7 === 0 && i % 10 !== 5 ? null : i, value });
  }
  return out;
}

const byKey = (a: Known, b: Known) =>
  a.exact < b.exact ? -1 : a.exact > b.exact ? 1 : (a.seq ?? -1) - (b.seq ?? -1);
const display = (exact: string) => exact.replace(/\.(\d{3})000Z$/, '.$1Z');

beforeAll(async () => {
  t = await startTestApp();
  // The history is the thing's own: its policy decides who may read it, so the thing must exist.
  await dittoHttp(t.baseUrl)
    .put(THING)
    .send({ features: { energy: { properties: { power: 0 } } } })
    .expect(201);
  // The first day gets a partition; the second stays in the default one: queries span both.
  await t.app.get(TelemetryPartitionsService).ensureDay(new Date('2024-03-01T12:00:00Z'));
  readings.push(...makeReadings());
  const toReading = (r: Known, path = 'power'): TelemetryReading => ({
    thingId: ID,
    featureId: 'energy',
    path,
    ts: r.exact,
    seq: r.seq,
    value: r.value,
  });
  const telemetry = t.app.get(TelemetryService);
  await t.app.get(TransactionRunner).run(async (tx) => {
    await telemetry.insertNew(
      tx,
      readings.map((r) => toReading(r)),
    );
    await telemetry.insertNew(
      tx,
      readings.slice(0, 5).map((r) => toReading({ ...r, value: 1000 }, 'status/level')),
    );
  });
});
afterAll(async () => {
  await t.close();
});

function api() {
  return dittoHttp(t.baseUrl);
}

/** What the history should answer, computed without SQL. */
function expectedBuckets(from: string, to: string, stepMs: number, agg: HistoryAgg) {
  const [lo, hi] = [Date.parse(from), Date.parse(to)];
  const numeric = ['avg', 'min', 'max', 'sum'].includes(agg);
  const groups = new Map<number, Known[]>();
  for (const r of [...readings].sort(byKey)) {
    if (r.ms < lo || r.ms >= hi || (numeric && typeof r.value !== 'number')) continue;
    const bucket = Math.floor(r.ms / stepMs) * stepMs;
    groups.set(bucket, [...(groups.get(bucket) ?? []), r]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([bucket, rs]) => {
      const nums = rs.map((r) => r.value as number);
      const sum = nums.reduce((s, v) => s + v, 0);
      const value = {
        avg: sum / nums.length,
        min: Math.min(...nums),
        max: Math.max(...nums),
        sum,
        count: rs.length,
        first: rs[0].value,
        last: rs[rs.length - 1].value,
      }[agg];
      return { ts: new Date(bucket).toISOString(), value, count: rs.length };
    });
}

describe('buckets', () => {
  const from = '2024-03-01T22:07:00Z';
  const to = '2024-03-02T02:00:00Z';

  it.each(['avg', 'min', 'max', 'sum', 'count', 'first', 'last'] as HistoryAgg[])(
    '%s per 15 minutes matches the values computed from the readings',
    async (agg) => {
      const res = await api().get(POWER).query({ from, to, step: '15m', agg }).expect(200);
      const expected = expectedBuckets(from, to, 900_000, agg);
      expect(expected.length).toBeGreaterThan(10);
      expect(res.body).toMatchObject({
        thingId: ID,
        featureId: 'energy',
        path: 'power',
        from: '2024-03-01T22:07:00.000Z',
        to: '2024-03-02T02:00:00.000Z',
        step: '15m',
        agg,
      });
      expect(res.body.buckets.map((b: { ts: string }) => b.ts)).toEqual(expected.map((b) => b.ts));
      expect(res.body.buckets.map((b: { count: number }) => b.count)).toEqual(expected.map((b) => b.count));
      res.body.buckets.forEach((b: { value: unknown }, i: number) => {
        const want = expected[i].value;
        if (agg === 'avg' || agg === 'sum') expect(b.value).toBeCloseTo(want as number, 6);
        else expect(b.value).toEqual(want);
      });
    },
  );

  it('takes epoch milliseconds and ISO 8601 steps; avg is the default', async () => {
    const iso = await api().get(POWER).query({ from, to, step: 'PT5M' }).expect(200);
    const ms = await api()
      .get(POWER)
      .query({ from: String(Date.parse(from)), to: String(Date.parse(to)), step: '5m', agg: 'avg' })
      .expect(200);
    expect(iso.body.agg).toBe('avg');
    expect(iso.body.buckets).toEqual(ms.body.buckets);
    expect(iso.body.buckets.length).toBe(expectedBuckets(from, to, 300_000, 'avg').length);
  });

  it('one bucket per day across the partition and the default partition', async () => {
    const res = await api()
      .get(POWER)
      .query({ from: '2024-03-01T00:00:00Z', to: '2024-03-03T00:00:00Z', step: '1d', agg: 'count' })
      .expect(200);
    const expected = expectedBuckets('2024-03-01T00:00:00Z', '2024-03-03T00:00:00Z', 86_400_000, 'count');
    expect(res.body.buckets).toEqual(expected);
    expect(expected).toHaveLength(2);
    expect(res.body.buckets[0].count + res.body.buckets[1].count).toBe(500);
  });
});

describe('raw points', () => {
  const from = '2024-03-01T21:00:00Z';
  const to = '2024-03-02T04:00:00Z';

  it('pages with the cursor through every point once, in (ts, seq) order', async () => {
    const seen: unknown[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await api()
        .get(POWER)
        .query({ from, to, limit: '37', ...(cursor ? { cursor } : {}) })
        .expect(200);
      expect(res.body.points.length).toBeLessThanOrEqual(37);
      seen.push(...res.body.points);
      cursor = res.body.cursor;
      pages++;
    } while (cursor !== undefined && pages < 100);
    expect(pages).toBe(Math.ceil(500 / 37));
    const expected = [...readings]
      .sort(byKey)
      .map((r) => ({ ts: display(r.exact), seq: r.seq, value: r.value }));
    expect(seen).toEqual(expected);
    expect(seen.some((p) => /\.\d{6}Z$/.test((p as { ts: string }).ts))).toBe(true);
  });

  it('answers the first 100 points of the range by default, with a cursor', async () => {
    const res = await api().get(POWER).query({ from, to }).expect(200);
    expect(res.body.points).toHaveLength(100);
    expect(typeof res.body.cursor).toBe('string');
    expect(res.body).toMatchObject({
      thingId: ID,
      featureId: 'energy',
      path: 'power',
      from: '2024-03-01T21:00:00.000Z',
    });
  });

  it('serves a property path of several segments', async () => {
    const res = await api()
      .get(`${THING}/features/energy/properties/status/level/history`)
      .query({ from, to })
      .expect(200);
    expect(res.body.path).toBe('status/level');
    expect(res.body.points.map((p: { value: unknown }) => p.value)).toEqual([1000, 1000, 1000, 1000, 1000]);
    expect(res.body.cursor).toBeUndefined();
  });

  it('is empty for a property without telemetry, not found for a thing that does not exist', async () => {
    const missing = await api()
      .get('/api/2/things/org.example:never/features/f/properties/p/history')
      .expect(404);
    expect(missing.body.error).toBe('things:feature.property.notfound');
    const none = await api().get(`${THING}/features/f/properties/p/history`).expect(200);
    expect(none.body.points).toEqual([]);
    expect(none.body.cursor).toBeUndefined();
    const buckets = await api()
      .get(`${THING}/features/energy/properties/unknown/history`)
      .query({ from, to, step: '1h' })
      .expect(200);
    expect(buckets.body.buckets).toEqual([]);
  });
});

describe('route precedence over the things wildcard', () => {
  it('GET …/history is the history; the property itself and writes still go to the things API', async () => {
    await api()
      .put(THING)
      .send({ features: { energy: { properties: { power: 5, status: { level: 3 } } } } })
      .expect(204);
    const value = await api().get(`${THING}/features/energy/properties/power`).expect(200);
    expect(value.body).toBe(5);
    const history = await api()
      .get(POWER)
      .query({ from: '2024-03-01T21:00:00Z', to: '2024-03-02T04:00:00Z' });
    expect(history.status).toBe(200);
    expect(Array.isArray(history.body.points)).toBe(true);
    // A property literally named history is Ditto's.
    const missing = await api().get(`${THING}/features/energy/properties/history`).expect(404);
    expect(missing.body.error).toBe('things:feature.property.notfound');
    await api()
      .put(`${THING}/features/energy/properties/history`)
      .send('"h"')
      .set('Content-Type', 'application/json')
      .expect(201);
    expect((await api().get(`${THING}/features/energy/properties/history`).expect(200)).body).toBe('h');
  });
});
