import { afterAll, describe, expect, it } from '@jest/globals';
import { ForecastPool, ForecastQueueFull, WorkerTimeout } from './forecast-pool.js';
import { train, type TrainRequest, type TrainResult } from './pipeline.js';

const H = 3_600_000;
const request: TrainRequest = {
  startMs: Date.parse('2024-01-01T00:00:00Z'),
  stepMs: H,
  y: Array.from(
    { length: 21 * 24 },
    (_, i) => 100 + 50 * Math.sin((2 * Math.PI * i) / 24) + ((i * 7919) % 13),
  ),
  children: [],
  horizonMs: 12 * H,
  topology: false,
};

const pool = new ForecastPool(1);
afterAll(() => pool.close());

describe('the forecast pool', () => {
  it('trains in a worker thread exactly as in process', async () => {
    const inWorker = await pool.run<TrainResult>({ kind: 'train', request }, 30_000);
    expect(JSON.stringify(inWorker)).toBe(JSON.stringify(train(request)));
  }, 180_000);

  it('times a job out, and serves the next one with a fresh worker', async () => {
    const big = { ...request, y: Array.from({ length: 2_000_000 }, (_, i) => i % 97) };
    await expect(pool.run({ kind: 'train', request: big }, 1)).rejects.toBeInstanceOf(WorkerTimeout);
    const again = await pool.run<TrainResult>({ kind: 'train', request }, 30_000);
    expect(again.holdout.learned.n).toBeGreaterThan(0);
  }, 180_000);

  it('reports a failing job without losing the worker', async () => {
    await expect(
      pool.run({ kind: 'train', request: { ...request, y: request.y.slice(0, 30) } }, 30_000),
    ).rejects.toThrow(/needs at least/);
  });

  it('times out whatever a zero timeout gives it, even a job that answers at once', async () => {
    await expect(pool.run({ kind: 'train', request }, 0)).rejects.toBeInstanceOf(WorkerTimeout);
  }, 180_000);

  it('refuses a task beyond its queue bound and serves the queued ones', async () => {
    const small = new ForecastPool(1, 2);
    try {
      // The worker is still booting: all three wait in the queue, which holds two.
      const a = small.run<TrainResult>({ kind: 'train', request }, 30_000);
      const b = small.run<TrainResult>({ kind: 'train', request }, 30_000);
      expect(small.queued).toBe(2);
      await expect(small.run({ kind: 'train', request }, 30_000)).rejects.toBeInstanceOf(ForecastQueueFull);
      const [ra, rb] = await Promise.all([a, b]);
      expect(rb.fingerprint).toBe(ra.fingerprint);
      expect(small.queued).toBe(0);
    } finally {
      await small.close();
    }
  }, 180_000);
});
