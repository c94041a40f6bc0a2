import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { deleteAt, getAt, parsePointer, setAt, toPointer } from './json-pointer.js';

function errorOf(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe('parsePointer', () => {
  it.each([
    ['', []],
    ['/', []],
    ['a', ['a']],
    ['/a', ['a']],
    ['/a/b/c', ['a', 'b', 'c']],
    ['a/b', ['a', 'b']],
    ['/house no/x', ['house no', 'x']],
    ['/a~0b', ['a~b']],
    ['/a~1b', ['a~1b']],
    ['/a~00', ['a~0']],
  ])('%j → %j', (path, segments) => {
    expect(parsePointer(path)).toEqual(segments);
  });

  it.each(['a//b', '//a', '/a/', 'a/', '//', '/a/b//'])('rejects %j', (path) => {
    const err = errorOf(() => parsePointer(path));
    expect(err.status).toBe(400);
    expect(err.code).toBe('json.pointer.invalid');
    expect(err.message).toContain(path);
  });
});

describe('toPointer', () => {
  it.each([
    [[], '/'],
    [['a'], '/a'],
    [['a', 'b'], '/a/b'],
    [['a~b'], '/a~0b'],
  ])('%j → %j', (segments, pointer) => {
    expect(toPointer(segments)).toBe(pointer);
  });

  it.each([[['a']], [['a~b', 'c']], [['~0', '~1', '~']]])('round-trips %j', (segments) => {
    expect(parsePointer(toPointer(segments))).toEqual(segments);
  });
});

describe('getAt', () => {
  const doc = { a: { b: { c: 1 }, arr: [{ x: 1 }], n: null }, zero: 0 };

  it.each([
    [[], doc],
    [['a', 'b', 'c'], 1],
    [['a', 'b'], { c: 1 }],
    [['zero'], 0],
    [['a', 'n'], null],
    [['missing'], undefined],
    [['a', 'b', 'c', 'd'], undefined],
    [['a', 'arr', '0'], undefined],
    [['a', 'n', 'x'], undefined],
    [['toString'], undefined],
    [['__proto__'], undefined],
    [['a', 'constructor'], undefined],
  ])('%j → %j', (segments, value) => {
    expect(getAt(doc, segments)).toEqual(value);
  });

  it('is undefined below a non-object root', () => {
    expect(getAt(5, ['a'])).toBeUndefined();
    expect(getAt(undefined, ['a'])).toBeUndefined();
  });
});

describe('setAt', () => {
  it.each([
    ['replaces the root', { a: 1 }, [], 7, 7],
    ['sets a new key', { a: 1 }, ['b'], 2, { a: 1, b: 2 }],
    ['replaces a key in place', { a: 1, b: 2 }, ['a'], 3, { a: 3, b: 2 }],
    ['creates intermediates', {}, ['a', 'b', 'c'], 1, { a: { b: { c: 1 } } }],
    ['replaces a non-object intermediate', { a: 5 }, ['a', 'b'], 1, { a: { b: 1 } }],
    ['replaces an array intermediate', { a: [1] }, ['a', 'b'], 1, { a: { b: 1 } }],
    ['starts from a non-object root', null, ['a'], 1, { a: 1 }],
    ['stores null', { a: 1 }, ['a'], null, { a: null }],
  ])('%s', (_name, root, segments, value, expected) => {
    expect(setAt(root, segments, value)).toEqual(expected);
  });

  it('keeps the key order', () => {
    const out = setAt({ a: 1, b: 2, c: 3 }, ['b'], 9) as object;
    expect(Object.keys(out)).toEqual(['a', 'b', 'c']);
  });

  it('does not mutate the input and shares untouched branches', () => {
    const root = { a: { b: 1 }, other: { deep: true } };
    const snapshot = structuredClone(root);
    const out = setAt(root, ['a', 'c'], 2) as typeof root & { a: { c: number } };
    expect(root).toEqual(snapshot);
    expect(out).toEqual({ a: { b: 1, c: 2 }, other: { deep: true } });
    expect(out.other).toBe(root.other);
  });

  it('stores __proto__ as a plain key', () => {
    const out = setAt({}, ['__proto__', 'polluted'], true) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(getAt(out, ['__proto__', 'polluted'])).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('deleteAt', () => {
  it.each([
    ['deletes a key', { a: 1, b: 2 }, ['a'], { b: 2 }, true],
    ['deletes a nested key', { a: { b: 1, c: 2 } }, ['a', 'b'], { a: { c: 2 } }, true],
    ['deletes a null value', { a: null }, ['a'], {}, true],
    ['reports a missing key', { a: 1 }, ['b'], { a: 1 }, false],
    ['reports a missing parent', { a: 1 }, ['x', 'y'], { a: 1 }, false],
    ['does not walk into scalars', { a: 1 }, ['a', 'b'], { a: 1 }, false],
    ['does not walk into arrays', { a: [1] }, ['a', '0'], { a: [1] }, false],
    ['ignores inherited keys', {}, ['toString'], {}, false],
    ['deletes the root', { a: 1 }, [], undefined, true],
    ['finds no root to delete', undefined, [], undefined, false],
  ])('%s', (_name, root, segments, expected, existed) => {
    const out = deleteAt(root, segments);
    expect(out.root).toEqual(expected);
    expect(out.existed).toBe(existed);
  });

  it('does not mutate the input', () => {
    const root = { a: { b: 1, c: 2 } };
    deleteAt(root, ['a', 'b']);
    expect(root).toEqual({ a: { b: 1, c: 2 } });
  });

  it('returns the same root when nothing was deleted', () => {
    const root = { a: { b: 1 } };
    expect(deleteAt(root, ['a', 'x']).root).toBe(root);
  });
});
