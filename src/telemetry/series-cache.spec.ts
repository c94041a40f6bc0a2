import { describe, expect, it } from '@jest/globals';
import { SeriesCache } from './series-cache.js';

describe('SeriesCache', () => {
  it('remembers ids by thing, feature and path, which never run into each other', () => {
    const cache = new SeriesCache(10);
    cache.remember(SeriesCache.key('org.example:a', 'energy', 'power'), 1);
    cache.remember(SeriesCache.key('org.example:a', 'energy', 'status/level'), 2);
    expect(cache.get(SeriesCache.key('org.example:a', 'energy', 'power'))).toBe(1);
    expect(cache.get(SeriesCache.key('org.example:a', 'energy', 'status/level'))).toBe(2);
    expect(cache.get(SeriesCache.key('org.example:a', 'energy/power', ''))).toBeUndefined();
  });

  it('stays within its bound, dropping the oldest entries first', () => {
    const cache = new SeriesCache(100);
    for (let i = 0; i < 1000; i++) cache.remember(SeriesCache.key('org.example:t', 'f', `p${i}`), i);
    expect(cache.size).toBeLessThanOrEqual(100);
    expect(cache.get(SeriesCache.key('org.example:t', 'f', 'p999'))).toBe(999);
    expect(cache.get(SeriesCache.key('org.example:t', 'f', 'p0'))).toBeUndefined();
  });
});
