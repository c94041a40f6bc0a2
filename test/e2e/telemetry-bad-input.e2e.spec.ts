import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TransactionRunner } from '../../src/persistence/transaction.js';
import { TelemetryService } from '../../src/telemetry/telemetry.service.js';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';

/** Every bad history request answers Ditto's error JSON with the right status and changes nothing. */

let t: TestApp;
const ID = 'org.example:meter-1';
const THING = `/api/2/things/${ID}`;
const POWER = `${THING}/features/energy/properties/power/history`;

beforeAll(async () => {
  t = await startTestApp();
  const telemetry = t.app.get(TelemetryService);
  await t.app.get(TransactionRunner).run((tx) =>
    telemetry.insertNew(
      tx,
      [0, 1, 2].map((i) => ({
        thingId: ID,
        featureId: 'energy',
        path: 'power',
        ts: `2024-03-01T22:00:0${i}Z`,
        seq: i,
        value: i,
      })),
    ),
  );
  await dittoHttp(t.baseUrl)
    .put(THING)
    .send({ features: { energy: { properties: { power: 1 } } } })
    .expect(201);
});
afterAll(async () => {
  await t.close();
});

function api() {
  return dittoHttp(t.baseUrl);
}

describe('bad input', () => {
  const P = POWER;
  const cases: [string, number, string, string][] = [
    [
      'invalid thing id',
      400,
      'things:id.invalid',
      '/api/2/things/no-namespace/features/energy/properties/power/history',
    ],
    ['feature id *', 400, 'json.key.invalid', `${THING}/features/*/properties/power/history`],
    [
      'encoded slash in a key',
      400,
      'json.pointer.invalid',
      `${THING}/features/energy/properties/a%2Fb/history`,
    ],
    ['empty path segment', 400, 'json.pointer.invalid', `${THING}/features/energy/properties/a//b/history`],
    ['from is no instant', 400, 'telemetry:query.invalid', `${P}?from=yesterday`],
    ['to is no real day', 400, 'telemetry:query.invalid', `${P}?to=2024-02-30T00:00:00Z`],
    [
      'from after to',
      400,
      'telemetry:query.invalid',
      `${P}?from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z`,
    ],
    [
      // Refused for every API path before any route reads it: the parameter is ambiguous.
      'from given twice',
      400,
      'gateway:request.invalid',
      `${P}?from=2024-03-01T00:00:00Z&from=2024-03-02T00:00:00Z`,
    ],
    ['step without unit', 400, 'telemetry:query.invalid', `${P}?step=15`],
    ['step in months', 400, 'telemetry:query.invalid', `${P}?step=P1M`],
    ['step of zero', 400, 'telemetry:query.invalid', `${P}?step=0s`],
    [
      'too many buckets',
      400,
      'telemetry:query.invalid',
      `${P}?from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z&step=1m`,
    ],
    ['unknown agg', 400, 'telemetry:query.invalid', `${P}?step=1h&agg=median`],
    ['agg without step', 400, 'telemetry:query.invalid', `${P}?agg=avg`],
    ['limit with step', 400, 'telemetry:query.invalid', `${P}?step=1h&limit=10`],
    ['limit 0', 400, 'telemetry:query.invalid', `${P}?limit=0`],
    ['limit too large', 400, 'telemetry:query.invalid', `${P}?limit=10001`],
    ['limit not a number', 400, 'telemetry:query.invalid', `${P}?limit=ten`],
    ['garbage cursor', 400, 'telemetry:query.invalid', `${P}?cursor=garbage`],
  ];

  it.each(cases)('%s → %d %s, Ditto error JSON, nothing changed', async (_name, status, error, url) => {
    const before = await snapshot();
    const res = await api().get(url).expect(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      status,
      error,
      message: expect.any(String),
      description: expect.any(String),
    });
    expect(await snapshot()).toEqual(before);
  });

  it('a cursor of another property → 400', async () => {
    const page = await api()
      .get(POWER)
      .query({ from: '2024-03-01T21:00:00Z', to: '2024-03-02T04:00:00Z', limit: '1' });
    const res = await api()
      .get(`${THING}/features/energy/properties/status/level/history`)
      .query({ cursor: page.body.cursor })
      .expect(400);
    expect(res.body).toMatchObject({ status: 400, error: 'telemetry:query.invalid' });
    expect(res.body.message).toMatch(/another property/);
  });

  async function snapshot(): Promise<unknown> {
    const { rows } = await t.db.query(
      `SELECT (SELECT count(*) FROM telemetry)::int AS telemetry, (SELECT count(*) FROM journal)::int AS journal,
              (SELECT coalesce(max(revision), 0) FROM things)::int AS revision`,
    );
    return rows[0];
  }
});
