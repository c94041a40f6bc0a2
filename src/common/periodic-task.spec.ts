import { describe, expect, it } from '@jest/globals';
import { PeriodicTask } from './periodic-task.js';

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

describe('PeriodicTask', () => {
  it('runs at start and on every tick, never two runs at once', async () => {
    let runs = 0;
    let busy = 0;
    let overlapped = false;
    const task = new PeriodicTask(
      'work',
      async () => {
        runs++;
        overlapped ||= busy > 0;
        busy++;
        await sleep(30);
        busy--;
      },
      { warn: () => undefined },
    );
    task.start(10);
    expect(runs).toBe(1);
    await sleep(100);
    await task.stop();
    expect(runs).toBeGreaterThan(1);
    expect(overlapped).toBe(false);
  });

  it('logs a failed run and tries again on the next tick', async () => {
    const warnings: string[] = [];
    let runs = 0;
    const task = new PeriodicTask(
      'pruning',
      () => {
        runs++;
        return runs === 1 ? Promise.reject(new Error('database away')) : Promise.resolve();
      },
      { warn: (m) => warnings.push(m) },
    );
    task.start(10);
    await sleep(50);
    await task.stop();
    expect(warnings).toEqual(['pruning failed: database away']);
    expect(runs).toBeGreaterThan(1);
  });

  it('stop waits for the run in progress and starts no more', async () => {
    let finished = false;
    let runs = 0;
    const task = new PeriodicTask(
      'work',
      async () => {
        runs++;
        await sleep(40);
        finished = true;
      },
      { warn: () => undefined },
    );
    task.start(5);
    await task.stop();
    expect(finished).toBe(true);
    await sleep(30);
    expect(runs).toBe(1);
  });
});
