import { describe, expect, it } from '@jest/globals';
import { cacheAdvice } from './search-cache.js';

const MB = 2 ** 20;

describe('cacheAdvice', () => {
  it('says nothing while the cache holds the data', () => {
    expect(cacheAdvice({ cacheBytes: 128 * MB, dataBytes: 100 * MB })).toBeUndefined();
    expect(cacheAdvice({ cacheBytes: 128 * MB, dataBytes: 128 * MB })).toBeUndefined();
  });

  it('names both sizes and where to read on when the data outgrows the cache', () => {
    const advice = cacheAdvice({ cacheBytes: 128 * MB, dataBytes: 2200 * MB });
    expect(advice).toContain('shared_buffers 128 MB');
    expect(advice).toContain('(2.1 GB)');
    expect(advice).toContain('Sizing PostgreSQL');
  });
});
