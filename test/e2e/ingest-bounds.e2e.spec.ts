import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { DeadLettersService } from '../../src/ingest/dead-letters.service.js';
import { IngestStats } from '../../src/ingest/ingest-stats.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import {
  connectDevice,
  publish,
  startIngestApp,
  uniqueNamespace,
  waitFor,
  type IngestTestApp,
} from '../support/mqtt.js';

/**
 * The ingest's bounds on the embedded broker, and messages the database cannot store: each
 * bound refuses (or dead-letters) and counts, nothing is silently lost, and every message the
 * ingest saw is accounted for: received = stored + ignored + dead-lettered + refused + pending.
 */
const MAX_PACKET = 4096;
let t: IngestTestApp;
/**
 * The embedded broker in its anonymous mode (MQTT_ANONYMOUS, as an anonymous Mosquitto gives):
 * the bounds that matter only where a client may name any thing (a NUL in the thing id of a
 * topic, retained messages on many things' topics) are tested there.
 */
let anon: IngestTestApp;
const ns = uniqueNamespace('bounds');

beforeAll(async () => {
  const bounds = {
    MQTT_URL: '',
    INGEST_MAX_PAYLOAD_BYTES: '1024',
    MQTT_MAX_PACKET_BYTES: String(MAX_PACKET),
    MQTT_MAX_RETAINED_PER_DEVICE: '2',
    MQTT_MAX_RETAINED: '3',
    MQTT_MAX_INFLIGHT_PER_DEVICE: '4',
    DEAD_LETTER_MAX_BYTES: '4096',
  };
  t = await startIngestApp(bounds);
  anon = await startIngestApp({ ...bounds, MQTT_ANONYMOUS: 'true' });
});
afterAll(async () => {
  await t?.close();
  await anon?.close();
});

/** A provisioned device signed in with its own secret: the only way onto the default broker. */
async function deviceFor(thingId: string, opts: Parameters<typeof connectAs>[3] = {}) {
  const secrets = await provisionDevices(t.baseUrl, [thingId]);
  return connectAs(t.brokerUrl, thingId, secrets.get(thingId) ?? '', opts);
}

const stats = () => t.app.get(IngestStats).view();

async function letters(
  thingOrTopic: string,
  app: IngestTestApp = t,
): Promise<{ reason: string; topic: string }[]> {
  const { rows } = await app.db.query(
    `SELECT reason, topic FROM ingest_dead_letters WHERE thing_id = $1 OR topic LIKE $2 ORDER BY id`,
    [thingOrTopic, `%${thingOrTopic}%`],
  );
  return rows;
}

/** Resolves when the broker closes the device's connection (a refusal under MQTT 3.1.1). */
function closed(c: MqttClient): Promise<void> {
  return new Promise((ok) => c.once('close', () => ok()));
}

describe('messages the database cannot store', () => {
  it('a topic with NUL (anonymous mode: any thing id) is a dead letter, and acknowledged', async () => {
    const d = await connectDevice(anon.brokerUrl);
    const topic = `things/${ns}:a\u0000b/telemetry`;
    await publish(d, topic, { features: { f: { v: 1 } } });
    await d.endAsync();
    const rows = await waitFor('the dead letter', async () => {
      const r = await letters(`${ns}:a`, anon);
      return r.length > 0 ? r : undefined;
    });
    expect(rows).toEqual([{ reason: 'text_invalid', topic: `things/${ns}:a\ufffdb/telemetry` }]);
  });

  it('NUL or a lone surrogate in strings or keys is a dead letter, the rest of the batch is stored', async () => {
    const id = `${ns}:strings`;
    const d = await deviceFor(id);
    await Promise.all([
      publish(d, `things/${id}/telemetry`, '{"features":{"f":{"v":"a\\u0000b"}}}'),
      publish(d, `things/${id}/telemetry`, '{"features":{"f":{"k\\u0000":1}}}'),
      publish(d, `things/${id}/telemetry`, '{"features":{"f":{"v":"\\ud800"}}}'),
      publish(d, `things/${id}/telemetry`, { seq: 1, features: { f: { ok: 1 } } }),
    ]);
    await d.endAsync();
    const rows = await waitFor('three dead letters', async () => {
      const r = await letters(id);
      return r.length === 3 ? r : undefined;
    });
    expect(rows.map((r) => r.reason)).toEqual(['schema_invalid', 'schema_invalid', 'schema_invalid']);
    const { rows: stored } = await t.db.query(
      `SELECT count(*)::int AS n FROM telemetry_readings WHERE thing_id = $1`,
      [id],
    );
    expect(stored[0].n).toBe(1);
  });
});

describe('time horizon', () => {
  it('readings before INGEST_MIN_TIMESTAMP or too far ahead are dead letters', async () => {
    const id = `${ns}:time`;
    const d = await deviceFor(id);
    await Promise.all([
      publish(d, `things/${id}/telemetry`, { ts: 0, features: { f: { v: 1 } } }),
      publish(d, `things/${id}/telemetry`, { ts: -1, features: { f: { v: 1 } } }),
      publish(d, `things/${id}/telemetry`, { ts: '1999-12-31T23:59:59Z', features: { f: { v: 1 } } }),
      publish(d, `things/${id}/telemetry`, { ts: Date.now() + 86_400_000, features: { f: { v: 1 } } }),
    ]);
    await d.endAsync();
    const rows = await waitFor('four dead letters', async () => {
      const r = await letters(id);
      return r.length === 4 ? r : undefined;
    });
    expect(rows.map((r) => r.reason).sort()).toEqual([
      'timestamp_in_future',
      'timestamp_too_old',
      'timestamp_too_old',
      'timestamp_too_old',
    ]);
  });
});

describe('embedded broker bounds', () => {
  it('a PUBLISH larger than MQTT_MAX_PACKET_BYTES closes the connection and is counted', async () => {
    const before = stats().refused.packet_too_large;
    const d = await deviceFor(`${ns}:big`, { reconnectPeriod: 0 });
    const gone = closed(d);
    // Not awaited: it is never acknowledged.
    d.publish(`things/${ns}:big/telemetry`, Buffer.alloc(MAX_PACKET * 4, 0x20), { qos: 1 });
    await gone;
    await waitFor('the refusal counted', () => stats().refused.packet_too_large === before + 1);
    await d.endAsync(true);
    const { rows } = await t.db.query(`SELECT 1 FROM telemetry_readings WHERE thing_id = $1`, [`${ns}:big`]);
    expect(rows).toHaveLength(0);
  });

  it('retained messages beyond the per-device and total bounds are refused and counted (anonymous mode: many things)', async () => {
    const a = await connectDevice(anon.brokerUrl, { reconnectPeriod: 0 });
    await publish(a, `things/${ns}:r1/status`, 'online', true);
    await publish(a, `things/${ns}:r1/telemetry`, { features: { f: { v: 1 } } }, true);
    // Replacing a retained message of its own costs nothing.
    await publish(a, `things/${ns}:r1/status`, 'online', true);
    const goneA = closed(a);
    a.publish(`things/${ns}:r2/status`, 'online', { qos: 1, retain: true });
    await goneA;
    await waitFor(
      'per-device refusal',
      () => anon.app.get(IngestStats).view().refused.retained_per_device === 1,
    );
    await a.endAsync(true);

    const b = await connectDevice(anon.brokerUrl, { reconnectPeriod: 0 });
    await publish(b, `things/${ns}:r3/status`, 'online', true);
    const goneB = closed(b);
    b.publish(`things/${ns}:r4/status`, 'online', { qos: 1, retain: true });
    await goneB;
    await waitFor('total refusal', () => anon.app.get(IngestStats).view().refused.retained_total === 1);
    await b.endAsync(true);
  });

  it('a device with MQTT_MAX_INFLIGHT_PER_DEVICE messages in the ingest waits; all are stored', async () => {
    const before = stats().throttled;
    const id = `${ns}:burst`;
    const d = await deviceFor(id);
    await Promise.all(
      Array.from({ length: 40 }, (_, seq) =>
        publish(d, `things/${id}/telemetry`, {
          ts: Date.now() - 1000 + seq,
          seq,
          features: { f: { v: seq } },
        }),
      ),
    );
    await d.endAsync();
    // Every publish was acknowledged, so every reading is committed.
    const { rows } = await t.db.query(
      `SELECT count(*)::int AS n FROM telemetry_readings WHERE thing_id = $1`,
      [id],
    );
    expect(rows[0].n).toBe(40);
    expect(stats().throttled).toBeGreaterThan(before);
  });
});

describe('dead-letter retention and size cap', () => {
  it('prunes letters older than the retention and the oldest beyond the cap', async () => {
    await t.db.query(
      `INSERT INTO ingest_dead_letters (received_at, topic, reason, message, payload, thing_id)
       VALUES (now() - interval '30 days', 'things/${ns}:old/telemetry', 'json_invalid', 'old', '\\x00', NULL)`,
    );
    for (let i = 0; i < 4; i++) {
      await t.db.query(
        `INSERT INTO ingest_dead_letters (received_at, topic, reason, message, payload, thing_id)
         VALUES (now(), $1, 'json_invalid', 'big', $2, NULL)`,
        [`things/${ns}:cap${i}/telemetry`, Buffer.alloc(1500, 0x41)],
      );
    }
    const before = stats().deadLettersPruned;
    const pruned = await t.app.get(DeadLettersService).prune();
    expect(pruned).toBeGreaterThanOrEqual(3);
    expect(stats().deadLettersPruned).toBe(before + pruned);
    const { rows } = await t.db.query(
      `SELECT topic, sum(octet_length(payload) + octet_length(topic) + octet_length(message)) OVER () AS total
       FROM ingest_dead_letters ORDER BY id`,
    );
    expect(Number(rows[0].total)).toBeLessThanOrEqual(4096);
    expect(rows.map((r) => r.topic)).not.toContain(`things/${ns}:old/telemetry`);
    // The newest is kept.
    expect(rows[rows.length - 1].topic).toBe(`things/${ns}:cap3/telemetry`);
  });
});

describe('accounting', () => {
  it('received = stored + ignored + dead-lettered + refused + pending', async () => {
    const m = await waitFor('nothing pending', () =>
      stats().messages.pending === 0 ? stats().messages : undefined,
    );
    expect(m.received).toBeGreaterThan(0);
    expect(m.received).toBe(m.stored + m.ignored + m.deadLettered + m.refused + m.pending);
  });
});

describe('AUTO_CREATE_PER_MINUTE', () => {
  let small: IngestTestApp;
  beforeAll(async () => {
    small = await startIngestApp({ MQTT_URL: '', MQTT_ANONYMOUS: 'true', AUTO_CREATE_PER_MINUTE: '3' });
  });
  afterAll(async () => {
    await small?.close();
  });

  it('devices create at most that many things a minute; the rest are dead letters, counted', async () => {
    const d = await connectDevice(small.brokerUrl);
    const ids = Array.from({ length: 5 }, (_, i) => `${ns}:new${i}`);
    for (const id of ids) await publish(d, `things/${id}/telemetry`, { features: { f: { v: 1 } } });
    // Known things are not limited.
    await publish(d, `things/${ids[0]}/telemetry`, { features: { f: { v: 2 } } });
    await d.endAsync();
    const { rows: things } = await small.db.query(`SELECT thing_id FROM things WHERE thing_id = ANY($1)`, [
      ids,
    ]);
    expect(things.map((r) => r.thing_id).sort()).toEqual(ids.slice(0, 3));
    const { rows: dead } = await small.db.query(
      `SELECT thing_id, reason FROM ingest_dead_letters WHERE thing_id = ANY($1) ORDER BY thing_id`,
      [ids],
    );
    expect(dead).toEqual([
      { thing_id: ids[3], reason: 'thing_create_limited' },
      { thing_id: ids[4], reason: 'thing_create_limited' },
    ]);
    expect(small.app.get(IngestStats).view().deadLetters.thing_create_limited).toBe(2);
  });
});

describe('AUTO_CREATE_PER_MINUTE while a fleet onboards', () => {
  const FLEET = 200;
  let fleet: IngestTestApp;
  beforeAll(async () => {
    // On MQTT_TEST_URL's broker when there is one: Mosquitto hands the platform a device's readings
    // in bulk, as in production, where the embedded broker passes a connection's next message only
    // once the previous one is committed.
    fleet = await startIngestApp({
      MQTT_ANONYMOUS: 'true',
      AUTO_CREATE_PER_MINUTE: String(FLEET),
    });
  });
  afterAll(async () => {
    await fleet?.close();
  });

  it('a new device whose readings reach several batches before its thing exists counts once', async () => {
    const gateways = await Promise.all(Array.from({ length: 20 }, () => connectDevice(fleet.brokerUrl)));
    const ids = Array.from({ length: FLEET }, (_, i) => `${ns}:fleet${i}`);
    // A fleet exactly the size of the limit, every device sending a reading every 10 ms: the
    // batches after the first overlap the one still creating the things.
    const sent: Promise<void>[] = [];
    for (let k = 0; k < 10; k++) {
      ids.forEach((id, i) =>
        sent.push(publish(gateways[i % 20], `things/${id}/telemetry`, { seq: k, features: { f: { v: k } } })),
      );
      await new Promise((ok) => setTimeout(ok, 10));
    }
    await Promise.all(sent);
    await Promise.all(gateways.map((g) => g.endAsync()));
    // Every reading ends up stored or a dead letter (on Mosquitto, acknowledged before either).
    const outcome = await waitFor('every reading stored or dead-lettered', async () => {
      const { rows } = await fleet.db.query<{ stored: number; dead: number }>(
        `SELECT (SELECT count(*)::int FROM telemetry_readings WHERE thing_id = ANY($1)) AS stored,
                (SELECT count(*)::int FROM ingest_dead_letters WHERE thing_id = ANY($1)) AS dead`,
        [ids],
      );
      return rows[0].stored + rows[0].dead >= FLEET * 10 && rows[0];
    });
    expect(outcome.stored + outcome.dead).toBe(FLEET * 10);
    if (outcome.dead === 0) return;
    // This app's share group gets every suite's readings on a shared broker, and other suites'
    // new devices spend the same budget. Then the budget must have gone on distinct things only
    // (as many things created as it allows), and each refused device refused whole: a device
    // counted twice would leave the budget short of its things.
    const { rows } = await fleet.db.query<{ created: number; partial: number }>(
      `SELECT (SELECT count(*)::int FROM things) AS created,
              (SELECT count(*)::int FROM ingest_dead_letters d
                WHERE d.thing_id = ANY($1)
                  AND EXISTS (SELECT 1 FROM telemetry_readings r WHERE r.thing_id = d.thing_id)) AS partial`,
      [ids],
    );
    expect(rows[0]).toEqual({ created: FLEET, partial: 0 });
  });
});
