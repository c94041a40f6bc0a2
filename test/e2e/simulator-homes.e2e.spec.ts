import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { authHeaders, TEST_USERS } from '../support/auth.js';
import { startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';
import {
  homesThingIds,
  runHomesBackfill,
  seedNumber,
  writeTopology,
  type BackfillSummary,
  type HomeThing,
} from '../../simulators/homes-fleet.js';
import { generateHomes } from '../../simulators/profiles/homes.js';
import { provisionFleet } from '../../simulators/provision.js';

/**
 * `--profile homes --backfill`: a tiny backfill (2 homes × 2 days of 15-minute readings) through
 * the embedded broker, each device provisioned and logged in with its own secret, as the CLI does
 * with --api. Every reading must be in the history with its own timestamp, and the twins must
 * carry the topology.
 */
const ns = uniqueNamespace('homes');
const SEED = 'e2e-homes';
const END = Math.floor(Date.now() / 900_000) * 900_000;
const STEPS = 2 * 96;
let t: IngestTestApp;
let things: HomeThing[] = [];
let summary: BackfillSummary;

const user = `${TEST_USERS.ditto.username}:${TEST_USERS.ditto.password}`;
const api = () => request(t.baseUrl);

interface Point {
  ts: string;
  seq: number | null;
  value: unknown;
}

async function history(thingId: string, property: string, to = END): Promise<Point[]> {
  const res = await api()
    .get(`/api/2/things/${thingId}/features/${property}/history`)
    .query({
      from: new Date(END - 3 * 86_400_000).toISOString(),
      to: new Date(to).toISOString(),
      limit: 10000,
    })
    .set(authHeaders())
    .expect(200);
  return (res.body as { points: Point[] }).points;
}

beforeAll(async () => {
  // The embedded broker: a device gets in only with its own secret.
  t = await startIngestApp({ MQTT_URL: '' });
  const ids = homesThingIds({ namespace: ns, homes: 2, seed: SEED });
  const credentials = await provisionFleet(t.baseUrl, user, ids);
  summary = await runHomesBackfill({
    broker: t.brokerUrl,
    namespace: ns,
    homes: 2,
    days: 2,
    stepMinutes: 15,
    seed: SEED,
    end: END,
    inflight: 64,
    credentials,
    beforeSend: async (list) => {
      things = list;
      await writeTopology(t.baseUrl, user, list);
    },
  });
}, 120_000);

afterAll(async () => {
  await t?.close();
});

describe('simulated homes backfill', () => {
  it('sends every reading of every home and appliance, all acknowledged', () => {
    expect(things.length).toBeGreaterThanOrEqual(2 * 7);
    expect(summary).toMatchObject({
      homes: 2,
      things: things.length,
      total: STEPS * things.length,
      acknowledged: STEPS * things.length,
      failed: 0,
      from: END - STEPS * 900_000,
      to: END,
      stoppedBy: 'done',
    });
  });

  it('stores the whole history of every meter, with the readings’ own timestamps and values', async () => {
    const [generated] = generateHomes({
      seed: seedNumber(SEED),
      homes: 1,
      days: 2,
      stepMinutes: 15,
      start: END - STEPS * 900_000,
    });
    const expected = new Map<string, Float64Array>([
      [`${ns}:${generated.homeId}`, generated.home],
      ...generated.appliances.map((a) => [`${ns}:${a.id}`, a.series] as [string, Float64Array]),
    ]);
    for (const [thingId, series] of expected) {
      const points = await waitFor(`the history of ${thingId}`, async () => {
        const p = await history(thingId, 'energy/properties/power');
        return p.length === STEPS && p;
      });
      expect(points.map((p) => Date.parse(p.ts))).toEqual(
        Array.from({ length: STEPS }, (_, i) => END - (STEPS - i) * 900_000),
      );
      expect(points.map((p) => p.value)).toEqual(Array.from(series));
    }
    const home = `${ns}:${generated.homeId}`;
    const temperature = await history(home, 'weather/properties/outdoorTemperature');
    expect(temperature.map((p) => p.value)).toEqual(Array.from(generated.outdoorTemperature));
    // Every other thing's history is complete too.
    for (const thing of things.filter((x) => !expected.has(x.thingId))) {
      await waitFor(`the history of ${thing.thingId}`, async () => {
        return (await history(thing.thingId, 'energy/properties/power')).length === STEPS;
      });
    }
  });

  it('puts the topology on the twins: appliances are partOf their home', async () => {
    const homes = things.filter((x) => x.kind === 'home');
    expect(homes.map((h) => h.thingId)).toEqual([`${ns}:home-1`, `${ns}:home-2`]);
    for (const thing of things) {
      const res = await api().get(`/api/2/things/${thing.thingId}`).set(authHeaders()).expect(200);
      const body = res.body as { attributes?: Record<string, unknown>; features?: Record<string, unknown> };
      if (thing.kind === 'home') {
        expect(body.attributes).toEqual({ type: 'home' });
        expect(body.features).toHaveProperty('weather.properties.outdoorTemperature');
      } else {
        expect(body.attributes).toEqual({ type: 'appliance', kind: thing.kind, partOf: thing.partOf });
        expect(homes.map((h) => h.thingId)).toContain(thing.partOf);
        expect(thing.thingId.startsWith(`${thing.partOf}-`)).toBe(true);
      }
      expect(body.features).toHaveProperty('energy.properties.power');
      expect(body.features).toHaveProperty('energy.properties.energy');
    }
  });

  it('makes the home meter the sum of its sub-meters in the twins’ history', async () => {
    const home = `${ns}:home-2`;
    const parts = things.filter((x) => x.partOf === home);
    const total = await history(home, 'energy/properties/power');
    const sums = new Array<number>(STEPS).fill(0);
    for (const part of parts) {
      const points = await history(part.thingId, 'energy/properties/power');
      points.forEach((p, i) => (sums[i] += p.value as number));
    }
    expect(total.map((p) => p.value)).toEqual(sums);
  });
});

describe('simulated homes going live after the backfill', () => {
  it('sends the history at once, then each reading only when its time has come', async () => {
    const liveNs = uniqueNamespace('homes-live');
    const ids = homesThingIds({ namespace: liveNs, homes: 1, seed: SEED });
    const credentials = await provisionFleet(t.baseUrl, user, ids);
    const end = Math.floor(Date.now() / 60_000) * 60_000;
    const backfilled = 60 * ids.length;
    const controller = new AbortController();
    const run = await runHomesBackfill({
      broker: t.brokerUrl,
      namespace: liveNs,
      homes: 1,
      days: 1 / 24,
      liveDays: 1 / 24,
      stepMinutes: 1,
      seed: SEED,
      end,
      credentials,
      signal: controller.signal,
      progressIntervalMs: 20,
      // Stop once the backfill and the first live step (due at `end`, already past) are acknowledged.
      onProgress: (p) => {
        if (p.acknowledged >= backfilled + ids.length) controller.abort();
      },
    });
    const stoppedAt = Date.now();
    expect(run.stoppedBy).toBe('signal');
    expect(run.failed).toBe(0);
    expect(run.total).toBe(120 * ids.length);
    expect(run.acknowledged).toBeGreaterThanOrEqual(backfilled + ids.length);
    expect(run.acknowledged).toBeLessThan(run.total);
    const home = `${liveNs}:home-1`;
    const points = await waitFor('the live reading', async () => {
      const p = await history(home, 'energy/properties/power', end + 3_600_000);
      return p.length >= 61 && p;
    });
    // The history runs on without a gap into the live readings, none of them ahead of the clock.
    expect(Date.parse(points[0].ts)).toBe(end - 60 * 60_000);
    points.forEach((p, i) => expect(Date.parse(p.ts)).toBe(end - 60 * 60_000 + i * 60_000));
    expect(Date.parse(points[points.length - 1].ts)).toBeLessThanOrEqual(stoppedAt);
  });
});
