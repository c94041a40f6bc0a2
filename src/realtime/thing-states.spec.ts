import { describe, expect, it } from '@jest/globals';
import type { JournalEntry } from '../journal/journal.types.js';
import { derive, type Known } from './thing-states.js';

const ID = 'org.example:meter';
const CREATED = '2026-12-07T10:00:00.000Z';

function entry(over: Partial<JournalEntry>): JournalEntry {
  return {
    seq: '1',
    thingId: ID,
    policyId: ID,
    revision: 1,
    action: 'created',
    path: '/',
    value: { policyId: ID, attributes: { room: 'hall' } },
    timestamp: CREATED,
    origin: 'rest',
    correlationId: null,
    ...over,
  };
}

const created = derive(entry({}), undefined)!;

describe('derive (the state after a journal entry, for extraFields)', () => {
  it('builds a created thing from its entry alone, in Ditto’s field order, with the system fields', () => {
    expect(created.revision).toBe(1);
    expect(created.state).toEqual({
      thingId: ID,
      policyId: ID,
      attributes: { room: 'hall' },
      _namespace: 'org.example',
      _revision: 1,
      _created: CREATED,
      _modified: CREATED,
    });
    expect(Object.keys(created.state!).slice(0, 2)).toEqual(['thingId', 'policyId']);
  });

  it('applies a merge, a modification and a deletion at a path to the state one revision before', () => {
    const at = (n: number) => `2026-12-07T10:00:0${n}.000Z`;
    const merged = derive(
      entry({
        revision: 2,
        action: 'merged',
        path: '/features',
        value: { power: { properties: { w: 5 } } },
        timestamp: at(1),
      }),
      created,
    )!;
    expect(merged.state).toMatchObject({
      features: { power: { properties: { w: 5 } } },
      _revision: 2,
      _modified: at(1),
    });
    const modified = derive(
      entry({ revision: 3, action: 'modified', path: '/attributes/room', value: 'loft', timestamp: at(2) }),
      merged,
    )!;
    expect(modified.state).toMatchObject({ attributes: { room: 'loft' }, _revision: 3, _created: CREATED });
    const deleted = derive(
      entry({ revision: 4, action: 'deleted', path: '/features/power', value: undefined }),
      modified,
    )!;
    expect(deleted.state?.features).toEqual({});
    // The state before is left as it was: sessions may still hold it.
    expect(merged.state).toMatchObject({ features: { power: { properties: { w: 5 } } } });
  });

  it('replaces the whole thing on a modification of "/", keeping its creation time', () => {
    const next = derive(
      entry({
        revision: 2,
        action: 'modified',
        value: { policyId: ID, attributes: { n: 1 } },
        timestamp: 'later',
      }),
      created,
    )!;
    expect(next.state).toEqual({
      thingId: ID,
      policyId: ID,
      attributes: { n: 1 },
      _namespace: 'org.example',
      _revision: 2,
      _created: CREATED,
      _modified: 'later',
    });
  });

  it('knows a deleted thing is gone whatever came before', () => {
    expect(derive(entry({ revision: 7, action: 'deleted', value: undefined }), undefined)).toEqual({
      revision: 7,
      state: null,
    });
  });

  it('cannot tell the state after a change without the state right before it', () => {
    const change = entry({ revision: 3, action: 'modified', path: '/attributes/room', value: 'loft' });
    expect(derive(change, undefined)).toBeUndefined();
    // A revision missing between the two: the database must be asked.
    expect(derive(change, created)).toBeUndefined();
    // Nothing to change in a thing known deleted.
    expect(
      derive(entry({ revision: 2, action: 'merged', path: '/attributes', value: {} }), {
        revision: 1,
        state: null,
      }),
    ).toBeUndefined();
  });

  it('lets newer knowledge stand in for an older entry (a replay)', () => {
    const newer: Known = { revision: 5, state: { thingId: ID } };
    expect(
      derive(entry({ revision: 3, action: 'modified', path: '/attributes/room', value: 'x' }), newer),
    ).toBe(newer);
  });
});
