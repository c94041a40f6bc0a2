import { describe, expect, it } from '@jest/globals';
import type { PolicyJson } from './model/policy.types.js';
import { PolicyCache } from './policy-cache.js';
import { compilePolicy } from './policy-evaluation.js';

function compiled(policyId: string, expiry?: string) {
  const policy: PolicyJson = {
    policyId,
    entries: {
      E: {
        subjects: { 'nginx:a': { type: 't', ...(expiry ? { expiry } : {}) } },
        resources: { 'thing:/': { grant: ['READ'], revoke: [] } },
      },
    },
  };
  return compilePolicy(policy, { now: Date.parse('2026-12-07T12:00:00Z') });
}

describe('PolicyCache', () => {
  it('holds a compilation per policy and namespace', () => {
    const cache = new PolicyCache(10);
    const p = compiled('ns:p');
    cache.put('ns', p, 'ns:p@1', ['ns:p'], cache.begin());
    expect(cache.get('ns:p', 'ns')).toBe(p);
    expect(cache.get('ns:p', 'other')).toBeUndefined();
    expect(cache.get('ns:p', 'ns', 'ns:p@2')).toBeUndefined(); // another revision: dropped
    expect(cache.get('ns:p', 'ns')).toBeUndefined();
  });

  it("drops every namespace's compilation of a changed policy, and only that policy's", () => {
    const cache = new PolicyCache(10);
    for (const id of ['ns:p', 'ns:p2', 'ns:q'])
      for (const ns of ['ns', 'other']) cache.put(ns, compiled(id), `${id}@1`, [id], cache.begin());
    cache.changed('ns:p');
    expect(cache.get('ns:p', 'ns')).toBeUndefined();
    expect(cache.get('ns:p', 'other')).toBeUndefined();
    expect(cache.get('ns:p2', 'ns')).toBeDefined();
    expect(cache.get('ns:q', 'other')).toBeDefined();
    expect(cache.size).toBe(4);
  });

  it('refuses a load that began before a change of a policy it compiled from', () => {
    const cache = new PolicyCache(10);
    const since = cache.begin();
    cache.changed('ns:imported');
    cache.put('ns', compiled('ns:p'), 'ns:p@1', ['ns:p', 'ns:imported'], since);
    expect(cache.get('ns:p', 'ns')).toBeUndefined();
    cache.put('ns', compiled('ns:p'), 'ns:p@1', ['ns:p', 'ns:imported'], cache.begin());
    expect(cache.get('ns:p', 'ns')).toBeDefined();
  });

  it('forgets the least recently used first, and a change after that still finds the rest', () => {
    const cache = new PolicyCache(2);
    cache.put('ns', compiled('ns:a'), 'a', ['ns:a'], cache.begin());
    cache.put('ns', compiled('ns:b'), 'b', ['ns:b'], cache.begin());
    cache.get('ns:a', 'ns');
    cache.put('ns', compiled('ns:c'), 'c', ['ns:c'], cache.begin());
    expect(cache.get('ns:b', 'ns')).toBeUndefined();
    expect(cache.size).toBe(2);
    cache.changed('ns:b');
    cache.changed('ns:a');
    expect(cache.get('ns:a', 'ns')).toBeUndefined();
    expect(cache.get('ns:c', 'ns')).toBeDefined();
    expect(cache.size).toBe(1);
  });

  it('does not serve a compilation past its earliest subject expiry', () => {
    let now = Date.parse('2026-12-07T12:00:00Z');
    const cache = new PolicyCache(10, () => now);
    cache.put('ns', compiled('ns:p', '2026-12-07T13:00:00Z'), 'p', ['ns:p'], cache.begin());
    expect(cache.get('ns:p', 'ns')).toBeDefined();
    now = Date.parse('2026-12-07T13:00:00Z');
    expect(cache.get('ns:p', 'ns')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
