import { describe, expect, it, jest } from '@jest/globals';
import { Lanes, type ItemResult } from './sync-lanes.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('Lanes.stop', () => {
  it('resolves only once the items already running have returned, and finishes a done one', async () => {
    const lanes = new Lanes(
      4,
      () => 10,
      () => undefined,
    );
    const running = deferred<ItemResult>();
    const finished = jest.fn();
    lanes.push('org.x:a', { kind: 'entry', run: () => running.promise, finished });
    let stopped = false;
    const stopping = lanes.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    running.resolve({ done: true });
    await stopping;
    expect(finished).toHaveBeenCalledTimes(1);
  });

  it('starts nothing queued after stop, does not report a failure caused by the closing, and retries nothing', async () => {
    const onError = jest.fn();
    const lanes = new Lanes(1, () => 1, onError);
    const first = deferred<ItemResult>();
    const later = jest.fn(() => Promise.resolve<ItemResult>({ done: true }));
    lanes.push('org.x:a', { kind: 'entry', run: () => first.promise });
    lanes.push('org.x:b', { kind: 'entry', run: later });
    const stopping = lanes.stop();
    first.reject(new Error('Cannot use a pool after calling end on the pool'));
    await stopping;
    await new Promise((r) => setTimeout(r, 20));
    expect(onError).not.toHaveBeenCalled();
    expect(later).not.toHaveBeenCalled();
    expect(lanes.size).toBe(2);
  });

  it('gives up waiting after the bound when an item never returns', async () => {
    const lanes = new Lanes(
      1,
      () => 1,
      () => undefined,
    );
    lanes.push('org.x:a', { kind: 'entry', run: () => new Promise<ItemResult>(() => undefined) });
    const started = Date.now();
    await lanes.stop(50);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('still reports failures while running', async () => {
    const onError = jest.fn();
    const lanes = new Lanes(1, () => 60_000, onError);
    lanes.push('org.x:a', { kind: 'entry', run: () => Promise.reject(new Error('boom')) });
    await new Promise((r) => setImmediate(r));
    expect(onError).toHaveBeenCalledWith('org.x:a', expect.any(Error));
    await lanes.stop();
  });
});
