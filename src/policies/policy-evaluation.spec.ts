import { describe, expect, it } from '@jest/globals';
import type { Permission, ResourceType } from './policy-enforcer.js';
import type { PolicyEntryJson, PolicyJson } from './model/policy.types.js';
import { compilePolicy, hasAdministrator, namespaceMatches, readersSummary } from './policy-evaluation.js';

type Res = Record<string, { grant?: Permission[]; revoke?: Permission[] }>;
function entry(subjects: string[], resources: Res, extra: Partial<PolicyEntryJson> = {}): PolicyEntryJson {
  return {
    subjects: Object.fromEntries(subjects.map((s) => [s, { type: 't' }])),
    resources: Object.fromEntries(
      Object.entries(resources).map(([k, v]) => [k, { grant: v.grant ?? [], revoke: v.revoke ?? [] }]),
    ),
    ...extra,
  };
}
function policy(entries: Record<string, PolicyEntryJson>, imports?: PolicyJson['imports']): PolicyJson {
  return { policyId: 'ns:p', entries, ...(imports ? { imports } : {}) };
}
const split = (p: string) => (p === '/' ? [] : p.slice(1).split('/'));

const grantTopRevokeBelow = policy({
  E: entry(['a'], {
    'thing:/': { grant: ['READ', 'WRITE'] },
    'thing:/features/secret': { revoke: ['READ'] },
  }),
});
const revokeTopGrantBelow = policy({
  E: entry(['a'], { 'thing:/': { revoke: ['READ'] }, 'thing:/attributes/public': { grant: ['READ'] } }),
});
const twoEntries = policy({
  G: entry(['a'], { 'thing:/': { grant: ['READ'] } }),
  R: entry(['b'], { 'thing:/attributes': { revoke: ['READ'] } }),
  R2: entry(['a'], { 'thing:/features/f': { revoke: ['READ'] } }),
});
const sameNode = policy({
  G: entry(['a'], { 'thing:/x': { grant: ['READ'] } }),
  R: entry(['a'], { 'thing:/x': { revoke: ['READ'] } }),
});
const writeOnly = policy({ W: entry(['a'], { 'thing:/': { grant: ['WRITE'] } }) });
const deep = policy({ E: entry(['a'], { 'thing:/features/f/properties/p': { grant: ['READ'] } }) });
const namespaced = policy({
  N: entry(['a'], { 'thing:/': { grant: ['READ'] } }, { namespaces: ['com.acme'] }),
  S: entry(['b'], { 'thing:/': { grant: ['READ'] } }, { namespaces: ['com.acme.*'] }),
});
const now = Date.parse('2030-01-01T00:00:00Z');
const expiring = policy({
  E: {
    subjects: {
      'x:old': { type: 't', expiry: '2029-01-01T00:00:00.000Z' },
      'x:new': { type: 't', expiry: '2031-01-01T00:00:00.000Z' },
    },
    resources: { 'thing:/': { grant: ['READ'], revoke: [] } },
  },
});
const imported: PolicyJson = {
  policyId: 'ns:lib',
  entries: {
    IMPL: entry(['i'], { 'thing:/': { grant: ['READ'] } }),
    EXPL: entry(['e'], { 'thing:/': { grant: ['READ'] } }, { importable: 'explicit' }),
    NEVER: entry(['n'], { 'thing:/': { grant: ['READ'] } }, { importable: 'never' }),
  },
};
const importing = policy(
  { OWN: entry(['o'], { 'policy:/': { grant: ['WRITE'] } }) },
  { 'ns:lib': { entries: ['EXPL', 'NEVER'] } },
);
const importingNoList = policy({ OWN: entry(['o'], { 'policy:/': { grant: ['WRITE'] } }) }, { 'ns:lib': {} });

type Case = [
  name: string,
  p: PolicyJson,
  q: 'U' | 'P',
  type: ResourceType,
  path: string,
  subjects: string[],
  perm: Permission,
  want: boolean,
  ns?: string,
];
const cases: Case[] = [
  [
    'grant top: unrestricted read at a leaf',
    grantTopRevokeBelow,
    'U',
    'thing',
    '/attributes/x',
    ['a'],
    'READ',
    true,
  ],
  [
    'grant top, revoke below: root not unrestricted',
    grantTopRevokeBelow,
    'U',
    'thing',
    '/',
    ['a'],
    'READ',
    false,
  ],
  [
    'grant top, revoke below: features not unrestricted',
    grantTopRevokeBelow,
    'U',
    'thing',
    '/features',
    ['a'],
    'READ',
    false,
  ],
  [
    'grant top, revoke below: revoked node',
    grantTopRevokeBelow,
    'U',
    'thing',
    '/features/secret',
    ['a'],
    'READ',
    false,
  ],
  [
    'grant top, revoke below: under the revoke',
    grantTopRevokeBelow,
    'U',
    'thing',
    '/features/secret/p',
    ['a'],
    'READ',
    false,
  ],
  ['grant top, revoke below: root partial', grantTopRevokeBelow, 'P', 'thing', '/', ['a'], 'READ', true],
  [
    'grant top, revoke below: revoked node not partial',
    grantTopRevokeBelow,
    'P',
    'thing',
    '/features/secret',
    ['a'],
    'READ',
    false,
  ],
  ['grant top, revoke below: WRITE unaffected', grantTopRevokeBelow, 'U', 'thing', '/', ['a'], 'WRITE', true],
  [
    'grant top, revoke below: sibling readable',
    grantTopRevokeBelow,
    'U',
    'thing',
    '/features/other',
    ['a'],
    'READ',
    true,
  ],
  [
    'revoke top, grant below: root not readable',
    revokeTopGrantBelow,
    'U',
    'thing',
    '/',
    ['a'],
    'READ',
    false,
  ],
  ['revoke top, grant below: root partial', revokeTopGrantBelow, 'P', 'thing', '/', ['a'], 'READ', true],
  [
    'revoke top, grant below: re-granted node',
    revokeTopGrantBelow,
    'U',
    'thing',
    '/attributes/public',
    ['a'],
    'READ',
    true,
  ],
  [
    'revoke top, grant below: below the re-grant',
    revokeTopGrantBelow,
    'U',
    'thing',
    '/attributes/public/x',
    ['a'],
    'READ',
    true,
  ],
  [
    'revoke top, grant below: sibling',
    revokeTopGrantBelow,
    'P',
    'thing',
    '/attributes/private',
    ['a'],
    'READ',
    false,
  ],
  ['two entries: a alone reads attributes', twoEntries, 'U', 'thing', '/attributes', ['a'], 'READ', true],
  [
    'two entries: a+b, b revokes attributes',
    twoEntries,
    'U',
    'thing',
    '/attributes',
    ['a', 'b'],
    'READ',
    false,
  ],
  [
    'two entries: a+b, b revoke applies below',
    twoEntries,
    'U',
    'thing',
    '/attributes/x',
    ['b', 'a'],
    'READ',
    false,
  ],
  ['two entries: a+b read other parts', twoEntries, 'U', 'thing', '/definition', ['a', 'b'], 'READ', true],
  ['two entries: b alone reads nothing', twoEntries, 'P', 'thing', '/', ['b'], 'READ', false],
  [
    'two entries: revoke in another entry for a',
    twoEntries,
    'U',
    'thing',
    '/features/f',
    ['a'],
    'READ',
    false,
  ],
  [
    'two entries: revoke in another entry restricts features',
    twoEntries,
    'U',
    'thing',
    '/features',
    ['a'],
    'READ',
    false,
  ],
  ['revoke beats grant at the same node', sameNode, 'U', 'thing', '/x', ['a'], 'READ', false],
  ['revoke beats grant at the same node: not partial', sameNode, 'P', 'thing', '/', ['a'], 'READ', false],
  ['WRITE does not imply READ', writeOnly, 'P', 'thing', '/', ['a'], 'READ', false],
  ['WRITE granted', writeOnly, 'U', 'thing', '/attributes', ['a'], 'WRITE', true],
  ['no EXECUTE without a grant', writeOnly, 'P', 'thing', '/', ['a'], 'EXECUTE', false],
  [
    'types are separate: no policy WRITE from thing WRITE',
    writeOnly,
    'P',
    'policy',
    '/',
    ['a'],
    'WRITE',
    false,
  ],
  ['unknown subject has nothing', writeOnly, 'P', 'thing', '/', ['z'], 'WRITE', false],
  ['deep grant: root partial', deep, 'P', 'thing', '/', ['a'], 'READ', true],
  ['deep grant: root not unrestricted', deep, 'U', 'thing', '/', ['a'], 'READ', false],
  ['deep grant: the path itself', deep, 'U', 'thing', '/features/f/properties/p', ['a'], 'READ', true],
  ['deep grant: sibling property', deep, 'P', 'thing', '/features/f/properties/q', ['a'], 'READ', false],
  ['namespace exact matches', namespaced, 'U', 'thing', '/', ['a'], 'READ', true, 'com.acme'],
  [
    'namespace exact does not match below',
    namespaced,
    'U',
    'thing',
    '/',
    ['a'],
    'READ',
    false,
    'com.acme.cars',
  ],
  ['namespace .* matches below', namespaced, 'U', 'thing', '/', ['b'], 'READ', true, 'com.acme.cars'],
  ['namespace .* does not match the base', namespaced, 'U', 'thing', '/', ['b'], 'READ', false, 'com.acme'],
  ['namespace other', namespaced, 'P', 'thing', '/', ['a', 'b'], 'READ', false, 'org.other'],
  ['expired subject ignored', expiring, 'P', 'thing', '/', ['x:old'], 'READ', false],
  ['future expiry counts', expiring, 'U', 'thing', '/', ['x:new'], 'READ', true],
  ['import implicit', importing, 'U', 'thing', '/', ['i'], 'READ', true],
  ['import explicit and listed', importing, 'U', 'thing', '/', ['e'], 'READ', true],
  ['import never even if listed', importing, 'P', 'thing', '/', ['n'], 'READ', false],
  ['import explicit not listed', importingNoList, 'P', 'thing', '/', ['e'], 'READ', false],
  ['import implicit without a list', importingNoList, 'U', 'thing', '/', ['i'], 'READ', true],
  ['own entries still apply with imports', importing, 'U', 'policy', '/entries', ['o'], 'WRITE', true],
];

describe('compilePolicy', () => {
  for (const [name, p, q, type, path, subjects, perm, want, ns] of cases) {
    it(name, () => {
      const e = compilePolicy(p, { namespace: ns ?? 'ns', now, imported: new Map([['ns:lib', imported]]) });
      const at = split(path);
      const got =
        q === 'U' ? e.hasUnrestricted(type, at, subjects, perm) : e.hasPartial(type, at, subjects, perm);
      expect(got).toBe(want);
    });
  }

  it('an import missing from the map contributes nothing', () => {
    expect(compilePolicy(importing, { now }).hasPartial('thing', [], ['i'], 'READ')).toBe(false);
  });
});

describe('readable', () => {
  const thing = {
    thingId: 'ns:t',
    policyId: 'ns:p',
    attributes: { public: { a: 1 }, private: 2 },
    features: { secret: { properties: { x: 1 } }, other: { properties: { y: [1, 2] } } },
  };
  const e = (p: PolicyJson) => compilePolicy(p, { now, namespace: 'ns' });

  it('returns the value itself for an unrestricted reader', () => {
    const p = policy({ E: entry(['a'], { 'thing:/': { grant: ['READ'] } }) });
    expect(e(p).readable('thing', [], thing, ['a'])).toBe(thing);
  });
  it('cuts a revoked child out of a granted node', () => {
    expect(e(grantTopRevokeBelow).readable('thing', [], thing, ['a'])).toEqual({
      ...thing,
      features: { other: thing.features.other },
    });
  });
  it('keeps only the re-granted part, the thing id and the policy id', () => {
    expect(e(revokeTopGrantBelow).readable('thing', [], thing, ['a'])).toEqual({
      thingId: 'ns:t',
      policyId: 'ns:p',
      attributes: { public: { a: 1 } },
    });
  });
  it('is undefined when nothing is readable', () => {
    expect(e(writeOnly).readable('thing', [], thing, ['a'])).toBeUndefined();
  });
  it('cuts below the asked path', () => {
    expect(e(grantTopRevokeBelow).readable('thing', ['features'], thing.features, ['a'])).toEqual({
      other: thing.features.other,
    });
  });
  it('a granted object whose children are all revoked stays, empty', () => {
    const p = policy({
      E: entry(['a'], {
        'thing:/attributes': { grant: ['READ'] },
        'thing:/attributes/x': { revoke: ['READ'] },
      }),
    });
    expect(e(p).readable('thing', ['attributes'], { x: 1 }, ['a'])).toEqual({});
  });
  it('arrays and scalars are leaves', () => {
    const p = policy({ E: entry(['a'], { 'thing:/features/other/properties/y/0': { grant: ['READ'] } }) });
    expect(e(p).readable('thing', [], thing, ['a'])).toBeUndefined();
  });
  it('policy resources are cut the same way, without a thing id', () => {
    const p = policy({ E: entry(['a'], { 'policy:/entries/E': { grant: ['READ'] } }) });
    const doc = { policyId: 'ns:p', entries: { E: { subjects: {} }, F: {} } };
    expect(e(p).readable('policy', [], doc, ['a'])).toEqual({ entries: { E: { subjects: {} } } });
  });
});

describe('readersSummary and the sanity rule', () => {
  it('summarizes each subject', () => {
    expect(readersSummary(twoEntries)).toEqual([
      { subject: 'a', readsSome: true, readsAll: false, revokesSome: true },
      { subject: 'b', readsSome: false, readsAll: false, revokesSome: true },
    ]);
    expect(readersSummary(policy({ E: entry(['a'], { 'thing:/': { grant: ['READ'] } }) }))).toEqual([
      { subject: 'a', readsSome: true, readsAll: true, revokesSome: false },
    ]);
  });
  it('a namespace-restricted grant reads some, never all', () => {
    expect(readersSummary(namespaced)[0]).toEqual({
      subject: 'a',
      readsSome: true,
      readsAll: false,
      revokesSome: false,
    });
  });
  it('a subject with an expiry never reads all (the summary is not rewritten when it expires)', () => {
    expect(readersSummary(expiring, undefined, now)).toEqual([
      { subject: 'x:new', readsSome: true, readsAll: false, revokesSome: false },
    ]);
  });
  it('requires a subject with unrestricted WRITE on policy:/ unless there are imports', () => {
    expect(hasAdministrator(policy({ E: entry(['a'], { 'policy:/': { grant: ['WRITE'] } }) }), 'ns')).toBe(
      true,
    );
    expect(
      hasAdministrator(
        policy({
          E: entry(['a'], { 'policy:/': { grant: ['WRITE'] }, 'policy:/entries': { revoke: ['WRITE'] } }),
        }),
        'ns',
      ),
    ).toBe(false);
    expect(hasAdministrator(writeOnly, 'ns')).toBe(false);
    expect(hasAdministrator(importingNoList, 'ns')).toBe(true);
  });
  it('matches namespace patterns', () => {
    expect(namespaceMatches(undefined, 'x')).toBe(true);
    expect(namespaceMatches(['a.*'], 'a.b')).toBe(true);
    expect(namespaceMatches(['a.*'], 'ab')).toBe(false);
  });
});
