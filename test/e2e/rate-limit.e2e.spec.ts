import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { authHeaders } from '../support/auth.js';
import { DittoSocket } from './realtime.support.js';

/** RATE_LIMIT_PER_SECOND: one subject's flood is answered 429 and leaves the others alone. */
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_PER_SECOND: '5' });
});
afterAll(async () => {
  await t?.close();
});

describe('rate limits', () => {
  it('answers a subject over its budget 429 with Retry-After in Ditto’s JSON; others go on', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        request(t.baseUrl)
          .get('/api/2/search/things/count')
          .set(authHeaders('alice'))
          .then((r) => r),
      ),
    );
    const statuses = answers.map((r) => r.status);
    // A burst may straddle two one-second windows: at most twice the budget passes.
    const passed = statuses.filter((s) => s === 200).length;
    expect(passed).toBeGreaterThanOrEqual(5);
    expect(passed).toBeLessThanOrEqual(10);
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.body.error).toBe('too.many.requests');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await request(t.baseUrl).get('/api/2/search/things/count').set(authHeaders('bob')).expect(200);
    // Health stays open to probes whatever clients do.
    await request(t.baseUrl).get('/health').expect(200);
  });

  it('counts WebSocket commands against the same budget', async () => {
    const ws = await DittoSocket.open(`${t.baseUrl.replace('http', 'ws')}/ws/2`, {}, 'ditto');
    try {
      const answers = await Promise.all(
        Array.from({ length: 16 }, () =>
          ws.command({ topic: 'org.rate/x/things/twin/commands/retrieve', path: '/' }),
        ),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(6);
      const refused = answers.find((a) => a.status === 429)!;
      expect((refused.value as { error: string }).error).toBe('too.many.requests');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    } finally {
      await ws.close();
    }
  });
});
