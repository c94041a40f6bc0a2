import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import request from 'supertest';
import { authHeaders } from '../support/auth.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import { startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';

/**
 * The database drops the ingest's connection in the middle of a batch (pg_terminate_backend of a
 * backend inside a transaction, as a failover, an idle-session killer or an operator would), again
 * and again, while 3 authenticated devices publish QoS 1 readings to the embedded broker. The
 * failed batch is retried on a fresh connection and acknowledged only once committed: every
 * reading a device was told was stored is there exactly once, and the app keeps answering.
 */
const DEVICES = 3;
const PER_DEVICE = 1500;
const ns = uniqueNamespace('pgterm');
const meters = Array.from({ length: DEVICES }, (_, n) => `${ns}:meter-${n}`);
let t: IngestTestApp;

beforeAll(async () => {
  t = await startIngestApp({ MQTT_URL: '', DEVICE_INACTIVITY_TIMEOUT: '0' });
});
afterAll(async () => {
  await t?.close();
});

async function publishAll(client: MqttClient, thingId: string, acked: Set<number>): Promise<void> {
  const start = Date.now() - 3_600_000;
  for (let from = 0; from < PER_DEVICE; from += 50) {
    await Promise.all(
      Array.from({ length: 50 }, async (_, k) => {
        const seq = from + k;
        const body = JSON.stringify({ ts: start + seq, seq, features: { meter: { power: seq } } });
        await client.publishAsync(`things/${thingId}/telemetry`, body, { qos: 1 });
        acked.add(seq);
      }),
    );
  }
}

/** Terminates one backend of the app that is inside a transaction; whether there was one. */
async function terminateOneInTransaction(): Promise<boolean> {
  const { rows } = await t.db.query<{ terminated: boolean }>(
    `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
       AND backend_type = 'client backend'
     ORDER BY xact_start LIMIT 1`,
  );
  return rows[0]?.terminated === true;
}

describe('pg_terminate_backend of the ingest’s connection mid-batch', () => {
  it('is survived: every acknowledged reading is stored exactly once', async () => {
    const secrets = await provisionDevices(t.baseUrl, meters);
    const clients = await Promise.all(meters.map((id) => connectAs(t.brokerUrl, id, secrets.get(id)!)));
    const acked = meters.map(() => new Set<number>());
    const retriesBefore = (await request(t.baseUrl).get('/api/2/ingest/stats').set(authHeaders())).body
      .retries as number;
    try {
      let done = false;
      const publishing = Promise.all(clients.map((c, n) => publishAll(c, meters[n], acked[n]))).finally(
        () => (done = true),
      );
      let terminated = 0;
      while (!done && terminated < 8) {
        if (await terminateOneInTransaction()) terminated++;
        await new Promise((ok) => setTimeout(ok, 25));
      }
      await publishing;
      expect(terminated).toBeGreaterThanOrEqual(1);
      // The failed commits were retried, as the stats show.
      const stats = (await request(t.baseUrl).get('/api/2/ingest/stats').set(authHeaders()).expect(200))
        .body as { retries: number };
      expect(stats.retries).toBeGreaterThan(retriesBefore);
      for (let n = 0; n < DEVICES; n++) {
        expect(acked[n].size).toBe(PER_DEVICE);
        const { rows } = await t.db.query(
          `SELECT seq::int AS seq, count(*)::int AS n FROM telemetry_readings
           WHERE thing_id = $1 AND feature_id = 'meter' AND path = 'power' GROUP BY seq`,
          [meters[n]],
        );
        const counts = new Map(rows.map((r: { seq: number; n: number }) => [r.seq, r.n]));
        expect([...acked[n]].filter((seq) => counts.get(seq) !== 1)).toEqual([]);
        expect(counts.size).toBe(PER_DEVICE);
      }
      // The twins hold the last reading, and REST still answers.
      await waitFor('the twins', async () => {
        const res = await request(t.baseUrl)
          .get(`/api/2/things/${meters[0]}/features/meter/properties/power`)
          .set(authHeaders());
        return res.status === 200 && res.body === PER_DEVICE - 1;
      });
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true)));
    }
  }, 120_000);
});
