import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runFleet, type MalformedKind, type SentMessage, type SentReading } from '../../simulators/index.js';
import { fleetThingIds } from '../../simulators/provision.js';
import { ConfigService } from '../../src/config/config.service.js';
import type { DeadLetterReason } from '../../src/ingest/device-contract.js';
import { IngestStats } from '../../src/ingest/ingest-stats.js';
import { provisionDevices } from '../support/devices.js';
import { startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';

let t: IngestTestApp;

/** Why the ingest refuses each kind of malformed message the simulator makes. */
const DEAD_LETTER_REASON: Record<MalformedKind, DeadLetterReason> = {
  'not-json': 'json_invalid',
  // A bare NaN or Infinity token is not JSON at all.
  nan: 'json_invalid',
  'wrong-types': 'schema_invalid',
  'bad-topic': 'thing_id_invalid',
  oversize: 'payload_too_large',
};

beforeAll(async () => {
  t = await startIngestApp();
});
afterAll(async () => {
  await t?.close();
});

/** pointer inside the thing → value, one per leaf (nested objects are property sub-paths). */
function leavesOf(r: SentReading): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (prefix: string, v: unknown): void => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0) {
      for (const [k, child] of Object.entries(v)) walk(`${prefix}/${k}`, child);
    } else out.set(prefix, v);
  };
  for (const [f, props] of Object.entries(r.features)) walk(`/features/${f}/properties`, props);
  return out;
}

function at(doc: unknown, pointer: string): unknown {
  return pointer
    .slice(1)
    .split('/')
    .reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], doc);
}

describe('a simulated fleet with faults', () => {
  it('every reading is in history once, twins hold the newest values, revisions add up', async () => {
    const namespace = uniqueNamespace('fleet');
    const malformed: Extract<SentMessage, { kind: 'malformed' }>[] = [];
    // Devices as a fleet has them: provisioned over REST, each logs in with its own secret.
    const secrets = await provisionDevices(t.baseUrl, fleetThingIds(namespace, 'energy', 1, 20));
    const summary = await runFleet({
      credentials: Object.fromEntries(secrets),
      broker: t.brokerUrl,
      profile: 'energy',
      devices: 20,
      rate: 25,
      count: 40,
      namespace,
      seed: 'ingest-fleet',
      faults: { duplicate: 0.1, outOfOrder: 0.1, malformed: 0.05 },
      record: true,
      onMessage: (m) => {
        if (m.kind === 'malformed') malformed.push(m);
      },
    });
    expect(summary.valid).toBe(20 * 40);
    expect(summary.failed).toBe(0);
    const expected = summary.readings.reduce((n, r) => n + leavesOf(r).size, 0);

    await waitFor(
      `${expected} readings in history`,
      async () => {
        const { rows } = await t.db.query(
          `SELECT count(*)::int AS n FROM telemetry_readings WHERE thing_id LIKE $1`,
          [`${namespace}:%`],
        );
        return rows[0].n === expected ? true : undefined;
      },
      60_000,
    );
    // Nothing more arrives late (a duplicate counted twice would show here).
    const stats = t.app.get(IngestStats);
    await waitFor('every message acknowledged', () => stats.acknowledged === stats.received);
    const { rows: total } = await t.db.query(
      `SELECT count(*)::int AS n, count(DISTINCT (thing_id, feature_id, path, ts, seq))::int AS d FROM telemetry_readings WHERE thing_id LIKE $1`,
      [`${namespace}:%`],
    );
    expect(total[0]).toEqual({ n: expected, d: expected });

    // The newest value per leaf (by device time, then seq) is what each twin shows.
    const newest = new Map<string, Map<string, { ts: number; seq: number; value: unknown }>>();
    for (const r of summary.readings) {
      const thing = newest.get(r.thingId) ?? new Map<string, { ts: number; seq: number; value: unknown }>();
      newest.set(r.thingId, thing);
      for (const [pointer, value] of leavesOf(r)) {
        const held = thing.get(pointer);
        if (!held || r.ts > held.ts || (r.ts === held.ts && r.seq > held.seq)) {
          thing.set(pointer, { ts: r.ts, seq: r.seq, value });
        }
      }
    }
    const { rows: things } = await t.db.query(
      `SELECT t.thing_id, t.doc, t.revision, (SELECT count(*) FROM journal j WHERE j.thing_id = t.thing_id AND j.entity = 'thing')::int AS changes
       FROM things t WHERE t.thing_id LIKE $1`,
      [`${namespace}:%`],
    );
    expect(things).toHaveLength(20);
    for (const row of things) {
      for (const [pointer, { value }] of newest.get(row.thing_id)!) {
        expect({ thing: row.thing_id, pointer, value: at(row.doc, pointer) }).toEqual({
          thing: row.thing_id,
          pointer,
          value,
        });
      }
      // Revision 1 is the creation; every later revision is one journaled change.
      expect(Number(row.revision)).toBe(row.changes);
    }
    const { rows: revisions } = await t.db.query(
      `SELECT thing_id, array_agg(revision ORDER BY revision)::int[] AS r FROM journal WHERE entity = 'thing' AND thing_id LIKE $1 GROUP BY thing_id`,
      [`${namespace}:%`],
    );
    for (const row of revisions) {
      expect(row.r).toEqual(Array.from({ length: row.r.length }, (_, i) => i + 1));
    }
    // Every malformed message the broker acknowledged is a dead letter: same topic, its raw bytes
    // (up to the payload limit) and the reason for its kind. Matching each message, rather than
    // counting rows, also covers topics without the namespace and cannot be fooled by a message
    // the contract in fact accepts. They commit in their own batches, which may still be in
    // flight when the last valid reading has landed: wait for them.
    expect(malformed).toHaveLength(summary.malformed);
    expect(malformed.length).toBeGreaterThan(0);
    const limit = t.app.get(ConfigService).get('INGEST_MAX_PAYLOAD_BYTES');
    const letterKey = (topic: string, payload: Buffer, reason: string): string =>
      `${reason} ${topic} ${payload.subarray(0, limit).toString('base64')}`;
    const wanted = malformed.map((m) => ({
      kind: `${m.malformed}/${m.variant}`,
      key: letterKey(m.topic, Buffer.from(m.payload), DEAD_LETTER_REASON[m.malformed]),
    }));
    const topics = [...new Set(malformed.map((m) => m.topic))];
    const missing = async (): Promise<string[]> => {
      const { rows } = await t.db.query(
        `SELECT topic, payload, reason FROM ingest_dead_letters WHERE topic = ANY($1)`,
        [topics],
      );
      const stored = new Set(rows.map((r) => letterKey(r.topic, r.payload, r.reason)));
      return wanted.filter((w) => !stored.has(w.key)).map((w) => w.kind);
    };
    // On timeout the assertion below names the messages that are missing.
    await waitFor(
      'every malformed message in the dead letters',
      async () => (await missing()).length === 0,
      60_000,
    ).catch(() => undefined);
    expect(await missing()).toEqual([]);
  });
});
