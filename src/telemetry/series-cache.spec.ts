import { describe, expect, it } from '@jest/globals';
import { SeriesCache } from './series-cache.js';

describe('SeriesCache', () => {
  it('remembers ids by thing, feature and path', () => {
    const cache = new SeriesCache(10);
    cache.remember('org.example:a', 'energy', 'power', 1);
    cache.remember('org.example:a', 'energy', 'status/level', 2);
    cache.remember('org.example:b', 'energy', 'power', 3);
    expect(cache.get('org.example:a', 'energy', 'power')).toBe(1);
    expect(cache.get('org.example:a', 'energy', 'status/level')).toBe(2);
    expect(cache.get('org.example:b', 'energy', 'power')).toBe(3);
    expect(cache.get('org.example:a', 'climate', 'power')).toBeUndefined();
    expect(cache.size).toBe(3);
  });

  it('stays within its bound, forgetting the things seen first', () => {
    const cache = new SeriesCache(100);
    for (let i = 0; i < 1000; i++) cache.remember(`org.example:t${i}`, 'f', 'p', i);
    expect(cache.size).toBeLessThanOrEqual(100);
    expect(cache.get('org.example:t999', 'f', 'p')).toBe(999);
    expect(cache.get('org.example:t0', 'f', 'p')).toBeUndefined();
  });
});
