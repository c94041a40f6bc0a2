import { describe, expect, it } from '@jest/globals';
import { leafTimesWithin, metadataView, replayLeafTimes } from './metadata.js';

describe('leafTimesWithin', () => {
  const times = {
    '/features/f/properties/a': 't1',
    '/features/f/properties/b/c': 't2',
    '/features/g/properties/x': 't3',
  };

  it('keeps the times of leaves present in the value at the path, no others', () => {
    expect(leafTimesWithin(times, ['features', 'f'], { properties: { a: 1 } })).toEqual({
      '/features/f/properties/a': 't1',
    });
    expect(leafTimesWithin(times, [], { features: { f: { properties: { b: { c: 0 } } } } })).toEqual({
      '/features/f/properties/b/c': 't2',
    });
    // A leaf that is the value itself.
    expect(leafTimesWithin(times, ['features', 'g', 'properties', 'x'], 5)).toEqual({
      '/features/g/properties/x': 't3',
    });
  });
});

describe('replayLeafTimes', () => {
  it('drops the times under a replaced path and sets the written ones', () => {
    const before = { '/attributes/a/b': 't1', '/attributes/c': 't1' };
    expect(
      replayLeafTimes(before, 'modified', ['attributes', 'a'], { d: 1 }, { '/attributes/a/d': 't2' }),
    ).toEqual({ '/attributes/c': 't1', '/attributes/a/d': 't2' });
    expect(replayLeafTimes(before, 'deleted', [], undefined, undefined)).toEqual({});
  });

  it('renders in Ditto shape', () => {
    expect(metadataView({ '/attributes/a': 't' })).toEqual({ attributes: { a: { ts: 't' } } });
  });
});
