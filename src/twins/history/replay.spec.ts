import { describe, expect, it } from '@jest/globals';
import type { JournalAction, JournalEntry } from '../../journal/journal.types.js';
import { applyEntry, initialState, replay, ReplayGapError } from './replay.js';

const ID = 'org.example:t1';
let seq = 0;
function entry(revision: number, action: JournalAction, path: string, value?: unknown): JournalEntry {
  return {
    seq: String(++seq),
    thingId: ID,
    policyId: ID,
    revision,
    action,
    path,
    value: value ?? null,
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, revision)).toISOString(),
    origin: 'rest',
    correlationId: null,
  };
}

describe('journal replay', () => {
  const created = entry(1, 'created', '/', { thingId: ID, policyId: 'org.example:p', attributes: { a: 1 } });

  it('a whole-thing create starts the thing and records its creation time', () => {
    const s = applyEntry(initialState(ID), created);
    expect(s).toEqual({
      thingId: ID,
      revision: 1,
      doc: { thingId: ID, policyId: 'org.example:p', attributes: { a: 1 } },
      created: created.timestamp,
      modified: created.timestamp,
      // Journaled without leaf times (as before they were kept): none known.
      metadata: {},
    });
  });

  it('replays the leaf times each change journaled: replaced, merged, deleted, unknown when not journaled', () => {
    const timed = (e: JournalEntry, leafTimes: Record<string, string>): JournalEntry => ({ ...e, leafTimes });
    const t = (n: number) => `2025-01-0${n}T00:00:00.000Z`;
    const states = [
      timed(entry(1, 'created', '/', { attributes: { a: 1, b: { c: 2 } } }), {
        '/attributes/a': t(1),
        '/attributes/b/c': t(1),
      }),
      timed(entry(2, 'merged', '/attributes', { a: 3, b: null, d: 4 }), {
        '/attributes/a': t(2),
        '/attributes/d': t(2),
      }),
      // Written before times were journaled: the leaf it replaced loses its time.
      entry(3, 'modified', '/attributes/d', 5),
      timed(entry(4, 'modified', '/attributes', { e: 6 }), { '/attributes/e': t(4) }),
      entry(5, 'deleted', '/attributes/e'),
    ].reduce((acc, e) => [...acc, applyEntry(acc[acc.length - 1], e)], [initialState(ID)]);
    expect(states.map((s) => s.metadata)).toEqual([
      {},
      { '/attributes/a': t(1), '/attributes/b/c': t(1) },
      { '/attributes/a': t(2), '/attributes/d': t(2) },
      { '/attributes/a': t(2) },
      { '/attributes/e': t(4) },
      {},
    ]);
    expect(applyEntry(states[2], entry(3, 'deleted', '/')).metadata).toEqual({});
  });

  it('sets, merges and deletes below the thing, keeping the creation time', () => {
    const s = replay(initialState(ID), [
      created,
      entry(2, 'created', '/features/f', { properties: { x: 1 } }),
      entry(3, 'merged', '/features/f/properties', { x: null, y: { z: 2 } }),
      entry(4, 'modified', '/attributes/a', 5),
      entry(5, 'deleted', '/attributes/a'),
      entry(6, 'merged', '/', { definition: 'ns:d:1', features: { g: { properties: { k: true } } } }),
    ]);
    expect(s.revision).toBe(6);
    expect(s.created).toBe(created.timestamp);
    expect(s.modified).toBe(entry(6, 'merged', '/').timestamp);
    expect(s.doc).toEqual({
      thingId: ID,
      policyId: 'org.example:p',
      definition: 'ns:d:1',
      attributes: {},
      features: { f: { properties: { y: { z: 2 } } }, g: { properties: { k: true } } },
    });
    // Ditto's field order, whatever order the patch had.
    expect(Object.keys(s.doc!)).toEqual(['thingId', 'policyId', 'definition', 'attributes', 'features']);
  });

  it('a whole-thing modify replaces everything but keeps the creation time', () => {
    const s = replay(initialState(ID), [created, entry(2, 'modified', '/', { thingId: ID, policyId: ID })]);
    expect(s.doc).toEqual({ thingId: ID, policyId: ID });
    expect(s.created).toBe(created.timestamp);
  });

  it('a merge patch that deletes the policyId keeps the one before, as the write path does', () => {
    const s = replay(initialState(ID), [created, entry(2, 'merged', '/', { policyId: null })]);
    expect(s.doc?.policyId).toBe('org.example:p');
  });

  it('a deletion of the thing means it did not exist; a re-creation starts afresh', () => {
    const deleted = replay(initialState(ID), [created, entry(2, 'deleted', '/')]);
    expect(deleted.doc).toBeNull();
    expect(deleted.created).toBeNull();
    const again = applyEntry(deleted, entry(3, 'created', '/', { thingId: ID, policyId: ID }));
    expect(again.doc).toEqual({ thingId: ID, policyId: ID });
    expect(again.created).toBe(entry(3, 'created', '/').timestamp);
  });

  it('merge patches use the regex deletion extension like the write path', () => {
    const s = replay(initialState(ID), [
      entry(1, 'created', '/', { thingId: ID, policyId: ID, attributes: { t1: 1, t2: 2, u: 3 } }),
      entry(2, 'merged', '/attributes', { '{{ ~t.*~ }}': null }),
    ]);
    expect(s.doc?.attributes).toEqual({ u: 3 });
  });

  it('does not share state between revisions: an earlier state is unchanged by later entries', () => {
    const s1 = applyEntry(initialState(ID), created);
    applyEntry(s1, entry(2, 'modified', '/attributes/a', 99));
    expect(s1.doc?.attributes).toEqual({ a: 1 });
  });

  it('refuses a gap: a missing revision cannot be replayed over', () => {
    const s1 = applyEntry(initialState(ID), created);
    expect(() => applyEntry(s1, entry(3, 'modified', '/attributes/a', 2))).toThrow(ReplayGapError);
  });

  it('refuses a change below a thing that did not exist', () => {
    expect(() => applyEntry(initialState(ID), entry(1, 'modified', '/attributes/a', 2))).toThrow();
  });
});
