import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { authHeaders } from '../support/auth.js';
import { DeviceFleet } from '../support/devices.js';
import { publish, startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';

/**
 * Resilient serving on the real path: with FORECAST_INFERENCE_TIMEOUT_MS=0 every inference in
 * the worker pool times out (a reply is late however fast it comes), so the twin of a home with a
 * trained, active model gets the seasonal-naive forecast, flagged as a fallback with the reason,
 * and the loop records a `fallback` event.
 */
const H = 3_600_000;
const DAYS = 5;
let t: IngestTestApp;
let fleet: DeviceFleet;
const ns = uniqueNamespace('fcfb');
const HOME = `${ns}:home`;
const base = Math.floor(Date.now() / H) * H;

const api = () => ({
  get: (p: string) => request(t.baseUrl).get(p).set(authHeaders()),
  post: (p: string, body: object) => request(t.baseUrl).post(p).set(authHeaders()).send(body),
});

function load(i: number): number {
  const hour = (((base / H + i) % 24) + 24) % 24;
  // Deterministic noise, so yesterday's value is not a perfect forecast.
  const noise = ((((i * 7919) % 101) + 101) % 101) - 50;
  return 300 + 300 * Math.max(0, Math.sin((Math.PI * (hour - 6)) / 14)) + noise;
}

async function stored(from: number, to: number, count: number): Promise<boolean> {
  const res = await api().get(
    `/api/2/things/${HOME}/features/energy/properties/power/history?from=${from}&to=${to}&step=1d&agg=count`,
  );
  return (res.body.buckets ?? []).reduce((sum: number, b: { count: number }) => sum + b.count, 0) === count;
}

beforeAll(async () => {
  t = await startIngestApp({ FORECAST_INFERENCE_TIMEOUT_MS: '0', FORECAST_TICK_MS: '3600000' });
  fleet = new DeviceFleet(t.baseUrl, t.brokerUrl);
  await request(t.baseUrl)
    .put(`/api/2/things/${HOME}`)
    .set(authHeaders())
    .send({
      attributes: { forecast: { target: 'energy/power', horizon: 'PT6H', step: 'PT1H' } },
      features: { energy: { properties: { power: 0 } } },
    })
    .expect(201);
  const n = DAYS * 24;
  const device = await fleet.device(HOME);
  for (let i = -n; i < 0; i++)
    await publish(device, `things/${HOME}/telemetry`, {
      ts: base + i * H,
      features: { energy: { power: load(i) } },
    });
  await waitFor(`the history of ${HOME}`, () => stored(base - n * H, base, n));
}, 120_000);

afterAll(async () => {
  await fleet?.end();
  await t?.close();
});

describe('a forecast whose inference times out', () => {
  it('is the seasonal-naive forecast, flagged as a fallback on the twin, with a fallback event', async () => {
    const res = await api().post('/api/2/forecasting/models/train', { thingId: HOME }).expect(200);
    expect(res.body.promoted).toBe(true);
    const model = res.body.model;
    expect(model.status).toBe('active');

    const twin = await api().get(`/api/2/things/${HOME}/features/forecast/properties`).expect(200);
    expect(twin.body).toMatchObject({
      target: 'energy/power',
      fallback: true,
      algorithm: 'seasonal-naive',
      // The model stays the active one; it just did not produce these points.
      model: { id: model.id, version: 1 },
    });
    expect(twin.body.fallbackReason).toMatch(/longer than 0 ms/);
    // Seasonal naive: the same hour a day earlier (the period chosen on the holdout: a day here,
    // as five days of history leave no week to compare).
    expect(twin.body.points).toHaveLength(6);
    twin.body.points.forEach((p: { ts: string; value: number }, k: number) => {
      expect(p.ts).toBe(new Date(base + k * H).toISOString());
      expect(p.value).toBeCloseTo(load(k - 24), 3);
    });

    const events = await api()
      .get(`/api/2/forecasting/events?thingId=${encodeURIComponent(HOME)}&kind=fallback`)
      .expect(200);
    expect(events.body.items).toHaveLength(1);
    expect(events.body.items[0]).toMatchObject({ modelId: model.id, kind: 'fallback' });
    expect(events.body.items[0].detail.reason).toMatch(/longer than 0 ms/);
  });
});
