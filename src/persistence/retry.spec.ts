import { describe, expect, it } from '@jest/globals';
import { cappedBackoff, isTransientDbError, retrying } from './retry.js';

describe('retrying', () => {
  it('runs again while the policy says so, and returns the first success', async () => {
    const seen: number[] = [];
    const result = await retrying(
      (attempt) => {
        seen.push(attempt);
        if (attempt < 3) return Promise.reject(Object.assign(new Error('deadlock'), { code: '40P01' }));
        return Promise.resolve('done');
      },
      { retryable: (err) => isTransientDbError(err) },
    );
    expect(result).toBe('done');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('throws the failure the policy gives up on, after telling about the retried ones', async () => {
    const retried: number[] = [];
    const error = await retrying((attempt) => Promise.reject(new Error(`failure ${attempt}`)), {
      retryable: (_err, attempt) => attempt < 2,
      onRetry: (_err, attempt) => retried.push(attempt),
    }).catch((err: unknown) => err);
    expect((error as Error).message).toBe('failure 2');
    expect(retried).toEqual([1]);
  });

  it('does not retry what is not transient', async () => {
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(Object.assign(new Error('unique violation'), { code: '23505' }));
    };
    await expect(retrying(failing, { retryable: (err) => isTransientDbError(err) })).rejects.toThrow(
      'unique violation',
    );
    expect(calls).toBe(1);
  });
});

describe('cappedBackoff', () => {
  it('doubles from the first wait up to the cap', () => {
    const wait = cappedBackoff(100, 5000);
    expect([1, 2, 3, 6, 7, 20].map(wait)).toEqual([100, 200, 400, 3200, 5000, 5000]);
  });
});

describe('isTransientDbError', () => {
  it('knows deadlocks and serialization failures only', () => {
    expect(isTransientDbError({ code: '40P01' })).toBe(true);
    expect(isTransientDbError({ code: '40001' })).toBe(true);
    expect(isTransientDbError({ code: '23505' })).toBe(false);
    expect(isTransientDbError(new Error('no code'))).toBe(false);
    expect(isTransientDbError(null)).toBe(false);
  });
});
