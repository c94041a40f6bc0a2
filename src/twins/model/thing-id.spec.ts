import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { isValidNamespace, parsePolicyId, parseThingId } from './thing-id.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return `${err.status} ${err.code}`;
    throw err;
  }
  return 'no error';
}

describe('parseThingId', () => {
  it.each([
    ['org.eclipse.ditto:xdk_53', 'org.eclipse.ditto', 'xdk_53'],
    ['foo:xdk_53', 'foo', 'xdk_53'],
    ['org.eclipse.foo_42:xdk_thing', 'org.eclipse.foo_42', 'xdk_thing'],
    ['com.acme-corp:x', 'com.acme-corp', 'x'],
    [':no-namespace', '', 'no-namespace'],
    ['ns:name:with:colons', 'ns', 'name:with:colons'],
    ['ns:with space', 'ns', 'with space'],
    ['ns:$dollar', 'ns', '$dollar'],
    ['ns:名前', 'ns', '名前'],
    ['a:' + 'x'.repeat(254), 'a', 'x'.repeat(254)],
  ])('%j → %j / %j', (id, namespace, name) => {
    expect(parseThingId(id)).toEqual({ namespace, name });
  });

  it.each([
    '',
    'no-colon',
    'ns:',
    'ns:a/b',
    'ns:tab\there',
    'ns:\u007f',
    'ns:umlaut-ä',
    '1ns:name',
    '.ns:name',
    'ns.:name',
    'ns..x:name',
    'ns.1x:name',
    'n s:name',
    'a:' + 'x'.repeat(255),
  ])('rejects %j', (id) => {
    expect(codeOf(() => parseThingId(id))).toBe('400 things:id.invalid');
  });

  it('names the ID in the message', () => {
    expect(() => parseThingId('bad')).toThrow("Thing ID 'bad' is not valid!");
  });
});

describe('parsePolicyId', () => {
  it('follows the same rules with its own error code', () => {
    expect(parsePolicyId('org.eclipse.ditto:policy')).toEqual({
      namespace: 'org.eclipse.ditto',
      name: 'policy',
    });
    expect(codeOf(() => parsePolicyId('nope'))).toBe('400 policies:id.invalid');
  });
});

describe('isValidNamespace', () => {
  it.each([
    ['', true],
    ['org', true],
    ['org.eclipse.ditto', true],
    ['my-ns.sub_1', true],
    ['1org', false],
    ['org.', false],
    ['org..x', false],
    ['org/x', false],
    ['org:x', false],
    ['a'.repeat(300), false],
  ])('%j → %j', (ns, valid) => {
    expect(isValidNamespace(ns)).toBe(valid);
  });
});
