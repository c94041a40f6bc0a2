import { describe, expect, it } from '@jest/globals';
import { likeToRegex } from './rql.sql.js';
import { compileWildcard } from './wildcard.js';

describe('compileWildcard', () => {
  it.each([
    ['a*', 'abc', true],
    ['*c', 'abc', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*b*', 'abc', true],
    ['*x*', 'abc', false],
    ['abc', 'abc', true],
    ['abc', 'abcd', false],
    ['', '', true],
    ['*', '', true],
    ['a*a', 'a', false],
    ['?', '😀', true],
    ['a**b', 'ab', true],
    ['*.json', 'x.json', true],
    ['(a|b)+', '(a|b)+', true],
  ])('like %j on %j is %s', (pattern, text, expected) => {
    expect(compileWildcard(pattern, false).test(text)).toBe(expected);
  });

  it('ilike ignores case', () => {
    expect(compileWildcard('*ÄB?', true).test('xäbc')).toBe(true);
    expect(compileWildcard('*ÄB?', false).test('xäbc')).toBe(false);
  });

  it('agrees with the regular expression it replaces on random patterns and texts', () => {
    // A fixed LCG, so a failure reproduces.
    let seed = 42;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = (alphabet: string, max: number) =>
      Array.from({ length: next(max + 1) }, () => alphabet[next(alphabet.length)]).join('');
    for (let i = 0; i < 5000; i++) {
      const pattern = pick('ab*?', 7);
      const text = pick('abc', 8);
      for (const insensitive of [false, true]) {
        const regex = new RegExp(likeToRegex(pattern), insensitive ? 'siu' : 'su');
        expect([pattern, text, compileWildcard(pattern, insensitive).test(text)]).toEqual([
          pattern,
          text,
          regex.test(text),
        ]);
      }
    }
  });

  it('answers patterns that make a backtracking RegExp explode within milliseconds', () => {
    const pattern = compileWildcard('*a*a*a*a*a*a*a*a*a*a*a*b', false);
    const text = 'a'.repeat(10_000);
    const started = performance.now();
    expect(pattern.test(text)).toBe(false);
    // A backtracking RegExp would not finish this in years; the bound only tells finishing from
    // not finishing (linear runs take a few ms, tens on a loaded machine), it is no speed goal.
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
