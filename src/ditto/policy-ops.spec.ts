import { describe, expect, it } from '@jest/globals';
import type { PolicyJson } from '../policies/model/policy.types.js';
import { policyBody, policyFromDitto, policyIdLinked, policyKey, samePolicy } from './policy-ops.js';

const policy = (over: Partial<PolicyJson> = {}): PolicyJson => ({
  policyId: 'org.example:pump',
  entries: {
    OWNER: {
      subjects: { 'nginx:ditto': { type: 'generated' } },
      resources: {
        'thing:/': { grant: ['READ', 'WRITE'], revoke: [] },
        'policy:/': { grant: ['READ', 'WRITE'], revoke: [] },
      },
    },
  },
  ...over,
});

describe('policy key', () => {
  it('never equals the id of the thing of the same name, nor any valid thing id', () => {
    expect(policyKey('org.example:pump')).not.toBe('org.example:pump');
    expect(/^(|[a-zA-Z]\w*(?:[.-][a-zA-Z]\w*)*):/.test(policyKey('org.example:pump'))).toBe(false);
  });
});

describe('policy → Ditto PUT body', () => {
  it('carries entries and imports, not the id (Ditto takes it from the URL)', () => {
    const doc = policy({ imports: { 'org.example:base': { entries: ['X'] } } });
    expect(policyBody(doc)).toEqual({ entries: doc.entries, imports: doc.imports });
  });

  it('leaves out an empty imports object', () => {
    expect(policyBody(policy({ imports: {} }))).toEqual({ entries: policy().entries });
  });
});

describe('policy from Ditto', () => {
  it('drops the system fields Ditto answers with and takes the id from the request', () => {
    const raw = { ...policyBody(policy()), policyId: 'other:id', _revision: 7, _modified: 'x' };
    expect(policyFromDitto('org.example:pump', raw)).toEqual(policy());
  });

  it('refuses what the platform cannot hold, as its own API would', () => {
    expect(() => policyFromDitto('org.example:pump', { entries: {}, references: [] })).toThrow(
      /not supported/,
    );
  });
});

describe('same policy', () => {
  it('is blind to key order, permission order and an empty imports', () => {
    const a = policy();
    const b: PolicyJson = {
      imports: {},
      entries: {
        OWNER: {
          resources: {
            'policy:/': { revoke: [], grant: ['WRITE', 'READ'] },
            'thing:/': { grant: ['READ', 'WRITE'], revoke: [] },
          },
          subjects: { 'nginx:ditto': { type: 'generated' } },
        },
      },
      policyId: 'org.example:pump',
    };
    expect(samePolicy(a, b)).toBe(true);
  });

  it.each<[string, (p: PolicyJson) => void]>([
    ['a subject added', (p) => (p.entries.OWNER.subjects['nginx:alice'] = { type: 'x' })],
    ['a subject type changed', (p) => (p.entries.OWNER.subjects['nginx:ditto'].type = 'other')],
    ['a permission revoked', (p) => (p.entries.OWNER.resources['thing:/'].revoke = ['WRITE'])],
    ['an entry added', (p) => (p.entries.READER = { subjects: {}, resources: {} })],
    ['an import added', (p) => (p.imports = { 'org.example:base': {} })],
    ['a namespace scope', (p) => (p.entries.OWNER.namespaces = ['org.example'])],
    ['importable never', (p) => (p.entries.OWNER.importable = 'never')],
  ])('sees %s', (_name, change) => {
    const changed = structuredClone(policy());
    change(changed);
    expect(samePolicy(policy(), changed)).toBe(false);
  });
});

describe('the policy a thing change links', () => {
  it.each<[string, Parameters<typeof policyIdLinked>[0], string | undefined]>([
    ['a created thing', { action: 'created', path: [], value: { policyId: 'a:p' } }, 'a:p'],
    ['a merged thing', { action: 'merged', path: [], value: { policyId: 'a:p' } }, 'a:p'],
    ['a PUT of the thing', { action: 'PUT', path: [], value: { policyId: 'a:p' } }, 'a:p'],
    ['a PATCH of the thing', { action: 'PATCH', path: [], value: { policyId: 'a:p' } }, 'a:p'],
    ['/policyId written', { action: 'modified', path: ['policyId'], value: 'a:q' }, 'a:q'],
    ['a thing without policyId', { action: 'modified', path: [], value: { attributes: {} } }, undefined],
    [
      'an attribute named policyId',
      { action: 'modified', path: ['attributes', 'policyId'], value: 'x' },
      undefined,
    ],
    ['a deletion', { action: 'deleted', path: [] }, undefined],
    ['a DELETE', { action: 'DELETE', path: ['policyId'], value: 'a:q' }, undefined],
  ])('%s', (_name, change, expected) => {
    expect(policyIdLinked(change)).toBe(expected);
  });
});
