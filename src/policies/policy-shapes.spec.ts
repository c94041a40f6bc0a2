import { describe, expect, it } from '@jest/globals';
import type { PolicyJson } from './model/policy.types.js';
import { compilePolicy } from './policy-evaluation.js';
import { CompiledShapes } from './policy-shapes.js';

const ALL = { grant: ['READ', 'WRITE'], revoke: [] } as PolicyJson['entries'][string]['resources'][string];

/** Ditto's default policy of a thing created by `owner`, with a tenant entry reading attributes. */
function fleetPolicy(i: number, owner = 'nginx:owner', expiry?: string): PolicyJson {
  return {
    policyId: `fleet:meter-${i}`,
    entries: {
      DEFAULT: {
        subjects: { [owner]: { type: 'generated', ...(expiry ? { expiry } : {}) } },
        resources: { 'thing:/': ALL, 'policy:/': ALL, 'message:/': ALL },
      },
      TENANT: {
        subjects: { 'nginx:tenant': { type: 'tenant' } },
        resources: {
          'thing:/attributes': { grant: ['READ'], revoke: [] },
          'thing:/attributes/secret': { grant: [], revoke: ['READ'] },
        },
      },
    },
  };
}

const THING = {
  thingId: 'fleet:meter-1',
  attributes: { building: 'B1', secret: 's' },
  features: { energy: { properties: { power: 5 } } },
};

/** What a compiled policy says to the fleet's subjects, as a client would see it. */
function answers(p: ReturnType<typeof compilePolicy>): unknown {
  return ['nginx:owner', 'nginx:tenant', 'nginx:other'].map((s) => [
    p.readable('thing', [], THING, [s]),
    p.hasUnrestricted('thing', ['features'], [s], 'WRITE'),
    p.hasPartial('policy', [], [s], 'READ'),
  ]);
}

describe('CompiledShapes', () => {
  it("compiles a fleet's per-thing policies once, each answering as if compiled alone", () => {
    const shapes = new CompiledShapes(100);
    for (let i = 0; i < 1000; i++) {
      const shared = compilePolicy(fleetPolicy(i), { namespace: 'fleet', shapes });
      const alone = compilePolicy(fleetPolicy(i), { namespace: 'fleet' });
      expect(shared.policyId).toBe(`fleet:meter-${i}`);
      expect(answers(shared)).toEqual(answers(alone));
    }
    expect(shapes.size).toBe(1);
    // The tenant reads the attributes but the revoked one; the owner all; others nothing.
    const [owner, tenant, other] = answers(compilePolicy(fleetPolicy(7), { shapes })) as unknown[][];
    expect(owner[0]).toEqual(THING);
    expect(tenant[0]).toEqual({ thingId: 'fleet:meter-1', attributes: { building: 'B1' } });
    expect(other[0]).toBeUndefined();
  });

  it('keeps policies that say different things apart', () => {
    const shapes = new CompiledShapes(100);
    const alice = compilePolicy(fleetPolicy(1, 'nginx:alice'), { shapes });
    const bob = compilePolicy(fleetPolicy(2, 'nginx:bob'), { shapes });
    expect(shapes.size).toBe(2);
    expect(alice.readable('thing', [], THING, ['nginx:alice'])).toEqual(THING);
    expect(bob.readable('thing', [], THING, ['nginx:alice'])).toBeUndefined();
    expect(bob.readable('thing', [], THING, ['nginx:bob'])).toEqual(THING);
  });

  it('an expired subject makes another content; a live expiry is the policy’s own, not the shape’s', () => {
    const shapes = new CompiledShapes(100);
    const now = Date.parse('2026-12-07T12:00:00Z');
    const plain = compilePolicy(fleetPolicy(1), { shapes, now });
    const expiring = compilePolicy(fleetPolicy(2, 'nginx:owner', '2026-12-07T13:00:00Z'), { shapes, now });
    const expired = compilePolicy(fleetPolicy(3, 'nginx:owner', '2026-12-07T11:00:00Z'), { shapes, now });
    expect(shapes.size).toBe(2);
    expect(plain.staleAfter).toBe(Infinity);
    expect(expiring.staleAfter).toBe(Date.parse('2026-12-07T13:00:00Z'));
    expect(expiring.readable('thing', [], THING, ['nginx:owner'])).toEqual(THING);
    expect(expired.readable('thing', [], THING, ['nginx:owner'])).toBeUndefined();
  });

  it('keeps at most maxShapes contents, least recently used out first', () => {
    const shapes = new CompiledShapes(3);
    const built: string[] = [];
    const use = (owner: string) =>
      shapes.get([{ subjects: [owner], resources: { 'thing:/': ALL } }], () => {
        built.push(owner);
        return { trees: new Map(), subjects: new Set([owner]) };
      });
    for (const owner of ['a', 'b', 'c', 'a', 'd', 'a', 'c', 'b']) use(owner);
    // d pushed out b (a had been used again); b's return then pushed out d.
    expect(built).toEqual(['a', 'b', 'c', 'd', 'b']);
    expect(shapes.size).toBe(3);
    use('d');
    expect(built).toEqual(['a', 'b', 'c', 'd', 'b', 'd']);
  });
});
