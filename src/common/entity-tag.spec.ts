import { describe, expect, it } from '@jest/globals';
import { canonicalJson, entityTag } from './entity-tag.js';

describe('entityTag', () => {
  it('is the revision for the entity itself', () => {
    expect(entityTag(7, [], { a: 1 })).toBe('"rev:7"');
  });

  it('does not depend on key order at any depth', () => {
    const a = { zz: 1, a: { y: [1, { q: 1, p: 2 }], x: null } };
    const b = { a: { x: null, y: [1, { p: 2, q: 1 }] }, zz: 1 };
    expect(entityTag(1, ['attributes'], a)).toBe(entityTag(9, ['attributes'], b));
  });

  it('differs when a value, an array order or a type differs', () => {
    const tag = (v: unknown) => entityTag(1, ['x'], v);
    expect(tag({ a: 1 })).not.toBe(tag({ a: 2 }));
    expect(tag([1, 2])).not.toBe(tag([2, 1]));
    expect(tag('1')).not.toBe(tag(1));
    expect(tag({ a: 1 })).not.toBe(tag({ a: 1, b: null }));
  });

  it('writes canonical JSON that parses back to the same value', () => {
    const v = { b: [true, 'x', { d: 1.5, c: null }], a: 'é"' };
    expect(JSON.parse(canonicalJson(v))).toEqual(v);
    expect(canonicalJson(v)).toBe('{"a":"é\\"","b":[true,"x",{"c":null,"d":1.5}]}');
  });
});
