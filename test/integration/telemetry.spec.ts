import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainError } from '../../src/common/domain-error.js';
import { TransactionRunner } from '../../src/persistence/transaction.js';
import { DAY_MS, dayPartition } from '../../src/telemetry/partition-plan.js';
import { TelemetryPartitionsService } from '../../src/telemetry/telemetry-partitions.service.js';
import type { TelemetryReading } from '../../src/telemetry/telemetry.types.js';
import { TelemetryService } from '../../src/telemetry/telemetry.service.js';
import { startTestApp, type TestApp } from '../support/app.js';

/** The telemetry table against real PostgreSQL: partitions, the default partition, retention, dedup. */

let t: TestApp;
let telemetry: TelemetryService;
let partitions: TelemetryPartitionsService;
let runner: TransactionRunner;

beforeAll(async () => {
  t = await startTestApp();
  telemetry = t.app.get(TelemetryService);
  partitions = t.app.get(TelemetryPartitionsService);
  runner = t.app.get(TransactionRunner);
});
afterAll(async () => {
  await t.close();
});

const reading = (over: Partial<TelemetryReading> = {}): TelemetryReading => ({
  thingId: 'org.example:int-1',
  featureId: 'energy',
  path: 'power',
  ts: '2024-05-10T12:00:00Z',
  seq: null,
  value: 1,
  ...over,
});

const insert = (readings: TelemetryReading[]) => runner.run((tx) => telemetry.insertNew(tx, readings));

async function partitionNames(): Promise<string[]> {
  const { rows } = await t.db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'telemetry'::regclass ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

/** Where each stored reading of a thing lives, and its value. */
async function stored(
  thingId: string,
): Promise<{ part: string; ts: string; seq: string | null; value: unknown }[]> {
  const { rows } = await t.db.query(
    `SELECT t.tableoid::regclass::text AS part, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ts,
            seq, value
     FROM telemetry t JOIN telemetry_series s ON s.id = t.series_id
     WHERE s.thing_id = $1 ORDER BY ts, COALESCE(seq, -1), s.feature_id, s.path`,
    [thingId],
  );
  return rows as { part: string; ts: string; seq: string | null; value: unknown }[];
}

describe('partitions', () => {
  it('exist for yesterday, today and a week ahead, plus the default partition', async () => {
    const now = new Date();
    // Explicitly, with the same `now` as the expectation: the boot run may have seen another day.
    await partitions.maintain({ now });
    const names = await partitionNames();
    expect(names).toContain('telemetry_default');
    for (let d = -1; d <= 7; d++) expect(names).toContain(dayPartition(now.getTime() + d * DAY_MS).name);
  });

  it('are created once however many runs race for them', async () => {
    const now = new Date(Date.now() + 30 * DAY_MS);
    const results = await Promise.all([1, 2, 3].map(() => partitions.maintain({ now, retentionDays: 0 })));
    const created = results.flatMap((r) => r.created);
    expect(created.length).toBeGreaterThan(0);
    expect(new Set(created).size).toBe(created.length);
    expect(await partitions.ensureDay(now)).toBe(false);
  });

  it('a reading far in the past or future lands in the default partition and is kept', async () => {
    const id = 'org.example:odd-times';
    const fresh = await insert([
      reading({ thingId: id, ts: '1999-12-31T23:59:59.999999Z', value: 'past' }),
      reading({ thingId: id, ts: '2999-01-01T00:00:00Z', value: 'future' }),
    ]);
    expect(fresh).toHaveLength(2);
    expect(await stored(id)).toEqual([
      { part: 'telemetry_default', ts: '1999-12-31T23:59:59.999999', seq: null, value: 'past' },
      { part: 'telemetry_default', ts: '2999-01-01T00:00:00.000000', seq: null, value: 'future' },
    ]);
  });

  it('creating the partition of a day whose readings sit in the default partition moves them, losing none', async () => {
    const id = 'org.example:late-day';
    await insert([
      reading({ thingId: id, ts: '2020-02-29T00:00:00Z', value: 1 }),
      reading({ thingId: id, ts: '2020-02-29T23:59:59.999999Z', value: 2 }),
      reading({ thingId: id, ts: '2020-03-01T00:00:00Z', value: 3 }),
    ]);
    expect(await partitions.ensureDay(new Date('2020-02-29T12:00:00Z'))).toBe(true);
    expect((await stored(id)).map((r) => [r.part, r.value])).toEqual([
      ['telemetry_p20200229', 1],
      ['telemetry_p20200229', 2],
      ['telemetry_default', 3],
    ]);
    // Again: harmless, nothing changes.
    expect(await partitions.ensureDay(new Date('2020-02-29T00:00:00Z'))).toBe(false);
    expect(await stored(id)).toHaveLength(3);
    // The dedup key still holds across the move.
    expect(await insert([reading({ thingId: id, ts: '2020-02-29T00:00:00Z', value: 9 })])).toEqual([]);
  });

  it('retention drops partitions entirely older than it, with their rows, and keeps the default partition', async () => {
    const id = 'org.example:retained';
    const now = new Date();
    const old = new Date(now.getTime() - 10 * DAY_MS);
    const oldDay = dayPartition(old.getTime());
    await partitions.ensureDay(old);
    await insert([
      reading({ thingId: id, ts: old.toISOString(), value: 'old' }),
      reading({ thingId: id, ts: '1990-01-01T00:00:00Z', value: 'in default' }),
      reading({ thingId: id, ts: now.toISOString(), value: 'now' }),
    ]);
    expect((await stored(id)).map((r) => r.part)).toEqual([
      'telemetry_default',
      oldDay.name,
      dayPartition(now.getTime()).name,
    ]);

    const result = await partitions.maintain({ now, retentionDays: 1 });

    expect(result.dropped).toContain(oldDay.name);
    const names = await partitionNames();
    expect(names).not.toContain(oldDay.name);
    expect(names).toContain('telemetry_default');
    expect(names).toContain(dayPartition(now.getTime() - DAY_MS).name);
    expect(names).toContain(dayPartition(now.getTime()).name);
    expect((await stored(id)).map((r) => r.value)).toEqual(['in default', 'now']);
    // Only whole days older than the retention go: a second run finds nothing to do.
    expect(await partitions.maintain({ now, retentionDays: 1 })).toEqual({
      created: [],
      dropped: [],
      moved: 0,
    });
  });
});

describe('insertNew', () => {
  it('returns exactly the new readings, in input order, as the same objects', async () => {
    const id = 'org.example:dedup-1';
    const a = reading({ thingId: id, ts: '2024-05-10T12:00:03Z', seq: 3, value: 'a' });
    const b = reading({ thingId: id, ts: '2024-05-10T12:00:01Z', seq: 1, value: 'b' });
    const c = reading({ thingId: id, ts: '2024-05-10T12:00:02Z', seq: null, value: 'c' });
    const first = await insert([a, b]);
    expect(first).toHaveLength(2);
    expect(first[0]).toBe(a);
    expect(first[1]).toBe(b);
    // a and b again (redelivery) around a new one.
    const second = await insert([{ ...b }, c, { ...a, value: 'changed' }]);
    expect(second).toEqual([c]);
    expect(second[0]).toBe(c);
    expect((await stored(id)).map((r) => r.value)).toEqual(['b', 'c', 'a']);
    expect(await insert([])).toEqual([]);
  });

  it('keeps the first of one key given twice in one call', async () => {
    const id = 'org.example:dedup-2';
    const first = reading({ thingId: id, seq: 5, value: 'first' });
    const again = reading({ thingId: id, seq: 5, value: 'second' });
    const other = reading({ thingId: id, seq: 6, value: 'other' });
    const fresh = await insert([first, other, again]);
    expect(fresh).toEqual([first, other]);
    expect(fresh[0]).toBe(first);
    expect((await stored(id)).map((r) => [r.seq, r.value])).toEqual([
      ['5', 'first'],
      ['6', 'other'],
    ]);
  });

  it('dedups readings without seq by (thing, feature, path, ts), in any spelling of the instant', async () => {
    const id = 'org.example:dedup-3';
    const r1 = reading({ thingId: id, ts: '2024-05-10T12:00:00Z', value: 1 });
    const r2 = reading({ thingId: id, ts: '2024-05-10T14:00:00.000+02:00', value: 2 });
    const r3 = reading({ thingId: id, ts: '2024-05-10T12:00:00', value: 3 });
    expect(await insert([r1, r2])).toEqual([r1]);
    expect(await insert([r3])).toEqual([]);
    // A seq makes it another reading; so do another path, feature or thing.
    const withSeq = reading({ thingId: id, seq: 0 });
    const otherPath = reading({ thingId: id, path: 'status/level' });
    const otherFeature = reading({ thingId: id, featureId: 'other' });
    expect(await insert([withSeq, otherPath, otherFeature, r1])).toEqual([withSeq, otherPath, otherFeature]);
    const { rows } = await t.db.query(
      'SELECT count(*)::int AS n FROM telemetry_readings WHERE thing_id = $1',
      [id],
    );
    expect(rows[0].n).toBe(4);
  });

  it('concurrent batches sharing readings store each once and report each as new exactly once', async () => {
    const id = 'org.example:dedup-4';
    const all = Array.from({ length: 300 }, (_, i) =>
      reading({
        thingId: id,
        ts: new Date(Date.UTC(2024, 4, 10) + i * 1000).toISOString(),
        seq: i,
        value: i,
      }),
    );
    // Overlapping windows in opposite orders: the worst case for lock ordering.
    const batches = [all.slice(0, 200), all.slice(100, 300).reverse(), all.slice(50, 250)];
    const results = await Promise.all(batches.map((b) => insert(b)));
    const reported = results.flat().map((r) => r.value as number);
    expect(reported.sort((x, y) => x - y)).toEqual(all.map((r) => r.value));
    const { rows } = await t.db.query(
      'SELECT count(*)::int AS n FROM telemetry_readings WHERE thing_id = $1',
      [id],
    );
    expect(rows[0].n).toBe(300);
  });

  it('refuses an invalid reading before any SQL, so the caller’s transaction stays usable', async () => {
    const id = 'org.example:dedup-5';
    const outcome = await runner.run(async (tx) => {
      const error = await telemetry
        .insertNew(tx, [reading({ thingId: id }), reading({ thingId: id, ts: '2024-02-30T00:00:00Z' })])
        .then(() => undefined)
        .catch((err: unknown) => err);
      const fresh = await telemetry.insertNew(tx, [reading({ thingId: id, value: 'after' })]);
      return { error, fresh };
    });
    expect(outcome.error).toBeInstanceOf(DomainError);
    expect(outcome.error).toMatchObject({ status: 400, code: 'telemetry:reading.invalid' });
    expect(outcome.fresh).toHaveLength(1);
    expect((await stored(id)).map((r) => r.value)).toEqual(['after']);
  });

  it('stores any JSON value, null included', async () => {
    const id = 'org.example:dedup-6';
    const values = [
      null,
      true,
      'text',
      12.5,
      -3,
      { nested: { deep: [1, 'two'] } },
      [1, 2],
      'ümlaut 🚀',
      // What array literals and JSON both treat specially.
      'say "hi" \\ {a,b} NULL',
      'NULL',
      { 'k"\\': ['}', '{', ',', ' '] },
    ];
    await insert(values.map((value, i) => reading({ thingId: id, seq: i, value })));
    expect((await stored(id)).map((r) => r.value)).toEqual(values);
  });
});
