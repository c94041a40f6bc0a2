import { describe, expect, it } from '@jest/globals';
import type { AuthContext } from '../auth/auth-context.js';
import type { JournalEntry } from '../journal/journal.types.js';
import type { PolicyJson } from '../policies/model/policy.types.js';
import type { PolicyEnforcer } from '../policies/policy-enforcer.js';
import { compilePolicy } from '../policies/policy-evaluation.js';
import { EventAccess, type EnforcerSource } from './event-access.js';
import { twinEvent } from './twin-event.js';

const POLICY = 'org.acc:p';
const policy = {
  entries: {
    OWNER: {
      subjects: { 'nginx:owner': { type: 'x' } },
      resources: { 'policy:/': { grant: ['READ', 'WRITE'], revoke: [] } },
    },
    PUBLIC: {
      subjects: { 'nginx:bob': { type: 'x' } },
      resources: { 'policy:/entries/PUBLIC': { grant: ['READ'], revoke: [] } },
    },
  },
} as unknown as PolicyJson;

/** A policy store where the policy is already gone, and the journal knows what was deleted. */
function sourceAfterDeletion(deletedValue: PolicyJson | undefined): EnforcerSource {
  const compiled = (v: PolicyJson | undefined): PolicyEnforcer | null =>
    v ? compilePolicy(v, { namespace: 'org.acc' }) : null;
  return {
    cached: () => undefined,
    load: () => Promise.resolve(null),
    deletedAfter: () => Promise.resolve(compiled(deletedValue)),
  };
}

function entry(seq: number, action: JournalEntry['action'], path: string, value: unknown): JournalEntry {
  return {
    seq: String(seq),
    entity: 'policy',
    thingId: POLICY,
    revision: seq,
    action,
    path,
    value,
    timestamp: new Date(0).toISOString(),
    origin: 'rest',
    correlationId: null,
  };
}

const bob = { subjects: ['nginx:bob'] } as unknown as AuthContext;

describe('EventAccess on a policy deleted before its earlier changes were delivered', () => {
  const changes = [
    entry(1, 'created', '/', policy),
    entry(2, 'modified', '/entries/OWNER/subjects/nginx:ops', { type: 'ops' }),
    entry(3, 'modified', '/entries/PUBLIC/subjects/nginx:guest', { type: 'guest' }),
  ];

  it('decides by the policy as it was deleted: bob sees the readable part of each change, nothing else', async () => {
    const access = EventAccess.for(bob, sourceAfterDeletion(policy))!.fresh();
    await access.load(changes);
    const seen = changes.map((e) => access.visible(twinEvent(e)));
    expect(seen[0]?.entry.value).toEqual({ entries: { PUBLIC: policy.entries.PUBLIC } });
    expect(seen[1]).toBeUndefined();
    expect(seen[2]?.entry.value).toEqual({ type: 'guest' });
  });

  it('shows nothing when the journal holds no deletion (the policy never existed for the reader)', async () => {
    const access = EventAccess.for(bob, sourceAfterDeletion(undefined))!.fresh();
    await access.load(changes);
    expect(changes.map((e) => access.visible(twinEvent(e)))).toEqual([undefined, undefined, undefined]);
  });
});
