import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { mergePatch, mergePatchAt } from './merge-patch.js';

describe('mergePatch (RFC 7396 appendix A)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j + %j → %j', (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it('treats an absent target as an empty object', () => {
    expect(mergePatch(undefined, { a: { b: null, c: 1 } })).toEqual({ a: { c: 1 } });
  });

  it('does not mutate its inputs', () => {
    const target = { a: { b: 1, c: 2 }, d: [1] };
    const patch = { a: { b: null, e: { f: 1 } } };
    const t = structuredClone(target);
    const p = structuredClone(patch);
    const out = mergePatch(target, patch) as Record<string, unknown>;
    expect(target).toEqual(t);
    expect(patch).toEqual(p);
    expect(out).toEqual({ a: { c: 2, e: { f: 1 } }, d: [1] });
    expect(out.d).toBe(target.d);
  });

  it('keeps the key order of the target and appends new keys', () => {
    const out = mergePatch({ a: 1, b: 2, c: 3 }, { d: 4, b: 5 }) as object;
    expect(Object.keys(out)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('handles __proto__ as a plain key', () => {
    const out = mergePatch({}, JSON.parse('{"__proto__":{"x":1}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__']);
  });

  it('matches the merge example of the Ditto documentation', () => {
    const before = {
      thingId: 'org.eclipse.ditto:merge-example',
      policyId: 'org.eclipse.ditto:merge-example',
      attributes: { location: { longitude: 47.68217, latitude: 9.386372 }, serialNo: '0000000' },
      features: {
        temperature: { properties: { value: 25.43, unit: '°C' } },
        pressure: { properties: { value: 1013.25, unit: 'hPa' } },
      },
    };
    const patch = {
      attributes: { location: null, manufacturer: 'Bosch', serialNo: '23091861' },
      features: {
        temperature: { properties: { value: 26.89 } },
        pressure: { properties: { unit: null } },
        humidity: { properties: { value: 55, unit: '%' } },
      },
    };
    expect(mergePatch(before, patch)).toEqual({
      thingId: 'org.eclipse.ditto:merge-example',
      policyId: 'org.eclipse.ditto:merge-example',
      attributes: { manufacturer: 'Bosch', serialNo: '23091861' },
      features: {
        temperature: { properties: { value: 26.89, unit: '°C' } },
        pressure: { properties: { value: 1013.25 } },
        humidity: { properties: { value: 55, unit: '%' } },
      },
    });
  });
});

describe('mergePatch regex deletion ({{ ~regex~ }})', () => {
  const target = { 'temp-1': 1, 'temp-2': 2, 'xtemp-3': 3, humidity: 4 };

  it.each([
    ['deletes the matching keys', { '{{ ~temp-.*~ }}': null }, { 'xtemp-3': 3, humidity: 4 }],
    ['needs the whole key to match', { '{{ ~temp~ }}': null }, target],
    [
      'allows no spaces inside the braces',
      { '{{~temp-1~}}': null },
      { 'temp-2': 2, 'xtemp-3': 3, humidity: 4 },
    ],
    ['deletes everything with .*', { '{{ ~.*~ }}': null }, {}],
    [
      'deletes before the other keys are applied',
      { '{{ ~.*temp.*~ }}': null, 'temp-2': 20, new: 5 },
      { humidity: 4, 'temp-2': 20, new: 5 },
    ],
    [
      'deletes regardless of where the regex key stands',
      { 'temp-2': 20, '{{ ~temp-.*~ }}': null },
      { 'xtemp-3': 3, humidity: 4, 'temp-2': 20 },
    ],
    ['treats a non-null value as an ordinary key', { '{{ ~temp~ }}': 1 }, { ...target, '{{ ~temp~ }}': 1 }],
  ])('%s', (_name, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });

  it('applies at nested levels', () => {
    const doc = { features: { lamp: { properties: { 'a-1': 1, 'a-2': 2, b: 3 } } } };
    const patch = { features: { lamp: { properties: { '{{ ~a-\\d~ }}': null, c: 4 } } } };
    expect(mergePatch(doc, patch)).toEqual({ features: { lamp: { properties: { b: 3, c: 4 } } } });
  });

  it('leaves no trace when the target has nothing to delete', () => {
    expect(mergePatch({}, { a: { '{{ ~x~ }}': null } })).toEqual({ a: {} });
  });

  it('rejects an invalid regex', () => {
    let caught: unknown;
    try {
      mergePatch(target, { '{{ ~temp-(~ }}': null });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DomainError);
    expect((caught as DomainError).code).toBe('things:merge.invalid');
    expect((caught as DomainError).status).toBe(400);
  });

  it('refuses what only a backtracking engine can do (a backreference) as invalid', () => {
    expect(() => mergePatch(target, { '{{ ~(temp)-\\1~ }}': null })).toThrow(DomainError);
  });

  it('runs a catastrophic pattern against a long near-miss key in linear time', () => {
    const key = `${'a'.repeat(5000)}!`;
    const started = performance.now();
    const out = mergePatch({ [key]: 1, aaaa: 2 }, { '{{ ~(a|a)+~ }}': null });
    // A backtracking engine needs 2.4 s for 28 characters, so years for these 5,001: this bound
    // only tells finishing from not finishing (runs take 1–60 ms, the slowest on a loaded CI).
    expect(performance.now() - started).toBeLessThan(LIVENESS_MS);
    expect(out).toEqual({ [key]: 1 });
  });

  it('reads a very long key that is almost a regex key without backtracking', () => {
    const key = `{{ ~${' '.repeat(50_000)}`;
    const started = performance.now();
    expect(mergePatch({}, { [key]: null })).toEqual({});
    expect(performance.now() - started).toBeLessThan(LIVENESS_MS);
  });
});

describe('mergePatchAt', () => {
  const doc = { thingId: 'a:b', attributes: { loc: { x: 1, y: 2 }, s: 'v' } };

  it.each([
    ['merges at a sub-path', ['attributes', 'loc'], { x: null, z: 3 }, { loc: { y: 2, z: 3 }, s: 'v' }],
    [
      'creates an absent path',
      ['attributes', 'new', 'deep'],
      { a: 1 },
      { loc: { x: 1, y: 2 }, s: 'v', new: { deep: { a: 1 } } },
    ],
    ['replaces with a scalar', ['attributes', 'loc'], 5, { loc: 5, s: 'v' }],
    ['deletes on null', ['attributes', 'loc'], null, { s: 'v' }],
    ['ignores null for an absent path', ['attributes', 'nope'], null, { loc: { x: 1, y: 2 }, s: 'v' }],
    [
      'drops nulls inside a created object',
      ['attributes', 'n'],
      { a: null, b: 1 },
      { loc: { x: 1, y: 2 }, s: 'v', n: { b: 1 } },
    ],
  ])('%s', (_name, segments, patch, attributes) => {
    const out = mergePatchAt(doc, segments, patch) as typeof doc;
    expect(out.attributes).toEqual(attributes);
    expect(out.thingId).toBe('a:b');
  });

  it('merges at the root with an empty path', () => {
    expect(mergePatchAt({ a: 1 }, [], { b: 2 })).toEqual({ a: 1, b: 2 });
  });

  it('does not mutate the input', () => {
    const copy = structuredClone(doc);
    mergePatchAt(doc, ['attributes', 'loc'], { x: null });
    mergePatchAt(doc, ['attributes', 'loc'], null);
    expect(doc).toEqual(copy);
  });
});

/**
 * Not a speed goal (the benches measure speed): how long a run may take before it counts as the
 * runaway backtracking these tests guard against, far above any linear run on a loaded machine.
 */
const LIVENESS_MS = 1_000;
