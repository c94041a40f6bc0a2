import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { ForecastingScheduler } from '../../src/forecasting/forecasting.scheduler.js';
import { authHeaders } from '../support/auth.js';
import { DeviceFleet } from '../support/devices.js';
import { publish, startIngestApp, uniqueNamespace, waitFor, type IngestTestApp } from '../support/mqtt.js';

/**
 * The forecasting loop on the real path: readings of a home and its fridge (attributes/partOf)
 * arrive over MQTT from authenticated devices, a model is trained on demand, the forecast shows
 * on the twin and over the API, versions are pinned and rolled back, readings far from the
 * forecast raise a drift alarm and a retraining, and the evaluation compares forecast and actuals.
 */
const H = 3_600_000;
const DAYS = 8;
let t: IngestTestApp;
let fleet: DeviceFleet;
const ns = uniqueNamespace('fc');
const HOME = `${ns}:home`;
const FRIDGE = `${ns}:fridge`;
const base = Math.floor(Date.now() / H) * H;

const api = (user: 'ditto' | 'bob' = 'ditto') => ({
  get: (p: string) => request(t.baseUrl).get(p).set(authHeaders(user)),
  post: (p: string, body: object) => request(t.baseUrl).post(p).set(authHeaders(user)).send(body),
});

function load(i: number): { home: number; fridge: number; temp: number } {
  const hour = (((base / H + i) % 24) + 24) % 24;
  const temp = 8 + 5 * Math.sin((2 * Math.PI * (hour - 9)) / 24);
  const fridge = 80 + (i % 3) * 10;
  // Deterministic noise, so yesterday's value is not a perfect forecast.
  const noise = ((((i * 7919) % 101) + 101) % 101) - 50;
  const home =
    250 + 300 * Math.max(0, Math.sin((Math.PI * (hour - 6)) / 14)) + 20 * (16 - temp) + fridge + noise;
  return { home, fridge, temp };
}

/** Whether the property's history holds `count` readings in [from, to). */
async function stored(thingId: string, from: number, to: number, count: number): Promise<boolean> {
  const res = await api().get(
    `/api/2/things/${thingId}/features/energy/properties/power/history?from=${from}&to=${to}&step=1d&agg=count`,
  );
  return (res.body.buckets ?? []).reduce((sum: number, b: { count: number }) => sum + b.count, 0) === count;
}

async function send(thingId: string, ts: number, features: object): Promise<void> {
  await publish(await fleet.device(thingId), `things/${thingId}/telemetry`, { ts, features });
}

beforeAll(async () => {
  t = await startIngestApp({
    FORECAST_TICK_MS: '3600000',
    FORECAST_DRIFT_MIN_READINGS: '2',
    FORECAST_DRIFT_FACTOR: '1.5',
    // The test sends the "future" readings a forecast is checked against.
    INGEST_MAX_FUTURE_SKEW_MS: String(2 * 86_400_000),
  });
  fleet = new DeviceFleet(t.baseUrl, t.brokerUrl);
  await request(t.baseUrl)
    .put(`/api/2/things/${HOME}`)
    .set(authHeaders())
    .send({
      attributes: { forecast: { target: 'energy/power', horizon: 'PT6H', step: 'PT1H' } },
      features: { energy: { properties: { power: 0 } }, weather: { properties: { outdoorTemperature: 0 } } },
    })
    .expect(201);
  await request(t.baseUrl)
    .put(`/api/2/things/${FRIDGE}`)
    .set(authHeaders())
    .send({
      attributes: { partOf: HOME, forecast: { horizon: 'PT6H', step: 'PT1H' } },
      features: { energy: { properties: { power: 0 } } },
    })
    .expect(201);
  const n = DAYS * 24;
  for (let i = -n; i < 0; i++) {
    const v = load(i);
    const ts = base + i * H;
    await send(HOME, ts, { energy: { power: v.home }, weather: { outdoorTemperature: v.temp } });
    await send(FRIDGE, ts, { energy: { power: v.fridge } });
  }
  // The twins keep their newer values (set now); the readings go to the history, which the model reads.
  for (const id of [HOME, FRIDGE])
    await waitFor(`the history of ${id}`, () => stored(id, base - n * H, base, n));
}, 120_000);

afterAll(async () => {
  await fleet?.end();
  await t?.close();
});

let v1: string;

describe('forecasting a home', () => {
  it('trains on demand, bottom-up over its fridge and the rest, and forecasts on the twin', async () => {
    const res = await api().post('/api/2/forecasting/models/train', { thingId: HOME }).expect(200);
    expect(res.body.promoted).toBe(true);
    const model = res.body.model;
    v1 = model.id;
    expect(model).toMatchObject({ thingId: HOME, target: 'energy/power', version: 1, status: 'active' });
    expect(model.parts).toEqual([FRIDGE]);
    expect(model.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(model.metrics.n).toBe(48);
    expect(model.metrics.mape).toBeLessThan(model.baseline.naive.mape);

    const twin = await api().get(`/api/2/things/${HOME}/features/forecast/properties`).expect(200);
    expect(twin.body).toMatchObject({
      target: 'energy/power',
      horizon: 'PT6H',
      step: 'PT1H',
      fallback: false,
      algorithm: 'bottom-up-ridge',
      model: { id: v1, version: 1, algorithm: 'bottom-up-ridge' },
    });
    expect(twin.body.points.map((p: { ts: string }) => p.ts)).toEqual(
      [0, 1, 2, 3, 4, 5].map((k) => new Date(base + k * H).toISOString()),
    );
    for (const p of twin.body.points) expect(p.lower).toBeLessThanOrEqual(p.value);
    expect(twin.body.error.holdout.mae).toBeCloseTo(model.metrics.mae, 3);

    const api2 = await api()
      .get(`/api/2/things/${HOME}/features/energy/properties/power/forecast`)
      .expect(200);
    expect(api2.body.points).toEqual(twin.body.points);
  });

  it('lists versions, pins one and rolls back to the one before', async () => {
    const second = await api().post('/api/2/forecasting/models/train', { thingId: HOME }).expect(200);
    const v2 = second.body.model.id as string;
    await api().post(`/api/2/forecasting/models/${v2}/pin`, {}).expect(200);
    let list = await api()
      .get(`/api/2/forecasting/models?thingId=${encodeURIComponent(HOME)}`)
      .expect(200);
    expect(list.body.items.map((m: { version: number; status: string }) => [m.version, m.status])).toEqual([
      [2, 'active'],
      [1, 'retired'],
    ]);
    const back = await api().post('/api/2/forecasting/models/rollback', { thingId: HOME }).expect(200);
    expect(back.body).toMatchObject({ id: v1, status: 'active' });
    list = await api()
      .get(`/api/2/forecasting/models?thingId=${encodeURIComponent(HOME)}`)
      .expect(200);
    expect(list.body.items.find((m: { id: string }) => m.id === v2).status).toBe('retired');
    const twin = await api().get(`/api/2/things/${HOME}/features/forecast/properties/model`).expect(200);
    expect(twin.body.id).toBe(v1);
  });

  it('compares forecasts with actuals and raises a drift alarm that retrains', async () => {
    // Three hours of readings four times what the model expects.
    for (let k = 0; k < 3; k++) {
      const v = load(k);
      await send(HOME, base + k * H, {
        energy: { power: 4 * v.home },
        weather: { outdoorTemperature: v.temp },
      });
    }
    await waitFor('the new readings', () => stored(HOME, base, base + 3 * H, 3));
    const evaluation = await api()
      .get(
        `/api/2/things/${HOME}/features/energy/properties/power/forecast/evaluation?from=${base}&to=${base + 6 * H}`,
      )
      .expect(200);
    expect(evaluation.body.points).toHaveLength(3);
    for (const p of evaluation.body.points) {
      expect(p.modelId).toBe(v1);
      expect(p.error).toBeCloseTo(p.actual - p.forecast, 6);
    }
    expect(evaluation.body.metrics.n).toBe(3);
    expect(evaluation.body.metrics.mape).toBeGreaterThan(50);

    const scheduler = t.app.get(ForecastingScheduler);
    const drift = await waitFor('a drift alarm', async () => {
      await scheduler.tick(base + 3 * H + 1);
      const events = await api().get(
        `/api/2/forecasting/events?thingId=${encodeURIComponent(HOME)}&kind=drift`,
      );
      return events.body.items[0];
    });
    expect(drift).toMatchObject({ thingId: HOME, modelId: v1, kind: 'drift' });
    const all = await api()
      .get(`/api/2/forecasting/events?thingId=${encodeURIComponent(HOME)}`)
      .expect(200);
    const kinds = all.body.items.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['trained', 'promoted', 'pinned', 'rollback', 'drift']));
    const retrained = all.body.items.find(
      (e: { kind: string; detail: { reason?: string } }) =>
        e.kind === 'trained' && e.detail.reason === 'drift',
    );
    expect(retrained).toBeDefined();
  });

  it('shows the loop on /metrics: models by status, their error and drift, events by kind', async () => {
    const text = (await request(t.baseUrl).get('/metrics').expect(200)).text;
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    // The database is shared with other tests: at least what this file did.
    expect(value('twin_forecast_models{status="active"}')).toBeGreaterThanOrEqual(1);
    expect(value('twin_forecast_events{kind="drift"}')).toBeGreaterThanOrEqual(1);
    expect(value('twin_forecast_events{kind="trained"}')).toBeGreaterThanOrEqual(2);
    expect(value('twin_forecast_events{kind="rollback"}')).toBeGreaterThanOrEqual(1);
    expect(value('twin_forecast_active_holdout_mape')).toBeGreaterThan(0);
  });

  it('documents its paths in the OpenAPI document', async () => {
    const doc = await request(t.baseUrl).get('/api/docs-json').set(authHeaders()).expect(200);
    const paths = Object.keys(doc.body.paths);
    for (const p of [
      '/api/2/forecasting/models',
      '/api/2/forecasting/models/train',
      '/api/2/forecasting/models/{id}/pin',
      '/api/2/forecasting/models/rollback',
      '/api/2/forecasting/events',
    ])
      expect(paths).toContain(p);
    expect(paths.some((p) => p.endsWith('/forecast/evaluation'))).toBe(true);
  });

  it('shows nothing to whoever may not read the thing', async () => {
    await api('bob')
      .get(`/api/2/forecasting/models?thingId=${encodeURIComponent(HOME)}`)
      .expect(404);
    await api('bob').post('/api/2/forecasting/models/train', { thingId: HOME }).expect(404);
    await api('bob').get(`/api/2/things/${HOME}/features/energy/properties/power/forecast`).expect(404);
    const events = await api('bob').get('/api/2/forecasting/events').expect(200);
    expect(events.body.items.filter((e: { thingId: string }) => e.thingId === HOME)).toEqual([]);
  });
});
