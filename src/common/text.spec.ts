import { describe, expect, it } from '@jest/globals';
import { storableText, unstorableJson } from './text.js';

describe('storableText', () => {
  it.each([
    ['plain', 'abc', true],
    ['emoji (a surrogate pair)', 'a😀b', true],
    ['NUL', 'a\u0000b', false],
    ['lone high surrogate', '\ud800', false],
    ['lone low surrogate', 'x\udc00', false],
    ['reversed pair', '\udc00\ud800', false],
    ['high surrogate at the end', 'ok\ud83d', false],
  ])('%s', (_what, s, ok) => {
    expect(storableText(s)).toBe(ok);
  });
});

describe('unstorableJson', () => {
  it('accepts ordinary JSON', () => {
    expect(unstorableJson({ a: [1, 'x', { b: null, c: 1.5e300 }] })).toBeUndefined();
  });

  it.each([
    ['a value with NUL', { a: 'x\u0000' }],
    ['a key with a lone surrogate', { '\udc00': 1 }],
    ['a nested non-finite number', { a: [{ b: JSON.parse('1e400') as number }] }],
  ])('refuses %s', (_what, value) => {
    expect(unstorableJson(value)).toBeDefined();
  });
});
