import { describe, expect, it } from '@jest/globals';
import { TwinCache } from './twin-cache.js';
import type { StoredThing } from './twin.types.js';

function thing(id: string, revision: number): StoredThing {
  return {
    thingId: id,
    namespace: 'org.example',
    doc: { thingId: id, policyId: id },
    revision,
    created: '2024-05-01T00:00:00.000Z',
    modified: '2024-05-01T00:00:00.000Z',
    metadata: {},
  };
}

describe('TwinCache', () => {
  it('hands out the states it holds, as they were when asked', () => {
    const cache = new TwinCache(1000, 100);
    const a1 = thing('org.example:a', 1);
    cache.remember(a1, 10);
    const snapshot = cache.snapshot(['org.example:a', 'org.example:b']);
    cache.remember(thing('org.example:a', 2), 10);
    expect([...snapshot]).toEqual([['org.example:a', a1]]);
    expect(cache.snapshot(['org.example:a']).get('org.example:a')?.revision).toBe(2);
  });

  it('forgets deleted things, and keeps neither unknown sizes nor oversized things', () => {
    const cache = new TwinCache(1000, 100);
    cache.remember(thing('org.example:a', 1), 10);
    cache.forget('org.example:a');
    cache.remember(thing('org.example:b', 1), undefined);
    cache.remember(thing('org.example:c', 1), 101);
    expect(cache.snapshot(['org.example:a', 'org.example:b', 'org.example:c']).size).toBe(0);
  });

  it('drops the least recently used entries beyond its budget', () => {
    const cache = new TwinCache(30, 100);
    for (const id of ['a', 'b', 'c']) cache.remember(thing(`org.example:${id}`, 1), 10);
    cache.snapshot(['org.example:a']); // a is now the most recently used
    cache.remember(thing('org.example:d', 1), 10);
    const held = cache.snapshot(['org.example:a', 'org.example:b', 'org.example:c', 'org.example:d']);
    expect([...held.keys()].sort()).toEqual(['org.example:a', 'org.example:c', 'org.example:d']);
  });

  it('counts a replaced entry once', () => {
    const cache = new TwinCache(20, 100);
    cache.remember(thing('org.example:a', 1), 10);
    cache.remember(thing('org.example:a', 2), 10);
    cache.remember(thing('org.example:b', 1), 10);
    expect(cache.snapshot(['org.example:a', 'org.example:b']).size).toBe(2);
  });
});
