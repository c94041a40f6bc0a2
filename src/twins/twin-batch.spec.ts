import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import { TwinBatch, type StagedOutcome } from './twin-batch.js';
import type { StoredThing, TwinCommand } from './twin.types.js';

const A = 'org.example:a';
const B = 'org.example:b';
const NOW = '2026-12-07T10:00:00.000Z';
const opts = { maxSize: 100 * 1024, now: () => NOW };

function stored(thingId: string, revision: number, attributes: Record<string, unknown> = {}): StoredThing {
  return {
    thingId,
    namespace: 'org.example',
    doc: { thingId, policyId: thingId, attributes },
    revision,
    created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z',
    metadata: {},
  };
}

const put = (thingId: string, path: string[], value: unknown): TwinCommand => ({
  type: 'modify',
  thingId,
  path,
  value,
  origin: 'rest',
});

function ok(o: StagedOutcome) {
  if (!o.ok) throw o.error;
  return o.change;
}

describe('TwinBatch', () => {
  it('applies commands on one thing in order, each on the state the one before left, one revision each', () => {
    const batch = new TwinBatch([stored(A, 4)], new Map(), [A], opts);
    const first = ok(batch.apply(put(A, ['attributes', 'x'], 1)));
    const second = ok(batch.apply(put(A, ['attributes', 'y'], 2)));
    expect(first.journal).toMatchObject({
      thingId: A,
      revision: 5,
      action: 'created',
      path: '/attributes/x',
    });
    expect(second.journal).toMatchObject({ revision: 6, path: '/attributes/y' });
    expect(second.thing?.doc.attributes).toEqual({ x: 1, y: 2 });
    expect(batch.writes()).toEqual({ inserts: [], updates: [second.thing], deletes: [] });
  });

  it('leaves the state as it was for the next command when one fails', () => {
    const batch = new TwinBatch([stored(A, 1, { x: 1 })], new Map(), [A], opts);
    const failed = batch.apply({ type: 'create', thingId: A, path: [], value: {}, origin: 'rest' });
    expect(failed.ok).toBe(false);
    const next = ok(batch.apply(put(A, ['attributes', 'y'], 2)));
    expect(next.journal?.revision).toBe(2);
    expect(next.thing?.doc.attributes).toEqual({ x: 1, y: 2 });
  });

  it('refuses a command its check denies without touching the thing', () => {
    const batch = new TwinBatch([stored(A, 1)], new Map(), [A], opts);
    const denied = new DomainError(403, 'things:thing.notmodifiable', 'no');
    const outcome = batch.apply(put(A, ['attributes', 'x'], 1), () => denied);
    expect(outcome).toEqual({ ok: false, error: denied });
    expect(batch.writes()).toEqual({ inserts: [], updates: [], deletes: [] });
  });

  it('continues a deleted thing’s revisions when it is created again', () => {
    const batch = new TwinBatch([], new Map([[A, 9]]), [A], opts);
    const created = ok(batch.apply(put(A, [], { attributes: { x: 1 } })));
    expect(created.status).toBe(201);
    expect(created.journal).toMatchObject({ action: 'created', revision: 10 });
  });

  it('sorts what to write into inserts, updates and deletes, and drops a thing created then deleted', () => {
    const C = 'org.example:c';
    const batch = new TwinBatch([stored(A, 1), stored(B, 1)], new Map(), [A, B, C], opts);
    ok(batch.apply(put(A, ['attributes', 'x'], 1)));
    ok(batch.apply({ type: 'delete', thingId: B, path: [], origin: 'rest' }));
    ok(batch.apply(put(C, [], {})));
    const writes = batch.writes();
    expect(writes.inserts.map((t) => t.thingId)).toEqual([C]);
    expect(writes.updates.map((t) => t.thingId)).toEqual([A]);
    expect(writes.deletes).toEqual([B]);

    const gone = new TwinBatch([], new Map(), [C], opts);
    ok(gone.apply(put(C, [], {})));
    ok(gone.apply({ type: 'delete', thingId: C, path: [], origin: 'rest' }));
    expect(gone.writes()).toEqual({ inserts: [], updates: [], deletes: [] });
  });

  it('changes nothing, with no revision and no journal entry, for a reading older than every stored leaf', () => {
    const thing = { ...stored(A, 3, { t: 20 }), metadata: { '/attributes/t': '2026-12-07T09:00:00.000Z' } };
    const batch = new TwinBatch([thing], new Map(), [A], opts);
    const late = ok(
      batch.apply({
        type: 'merge',
        thingId: A,
        path: [],
        value: { attributes: { t: 19 } },
        origin: 'mqtt',
        sourceTime: '2026-12-07T08:00:00.000Z',
      }),
    );
    expect(late).toMatchObject({ status: 204, journal: null });
    expect(late.thing).toBe(thing);
    expect(batch.writes()).toEqual({ inserts: [], updates: [], deletes: [] });
  });

  it('stamps every change of the batch with the batch’s one time', () => {
    const batch = new TwinBatch([stored(A, 1), stored(B, 1)], new Map(), [A, B], opts);
    const a = ok(batch.apply(put(A, ['attributes', 'x'], 1)));
    const b = ok(batch.apply(put(B, ['attributes', 'x'], 1)));
    expect([a.journal?.timestamp, b.journal?.timestamp, a.thing?.modified]).toEqual([NOW, NOW, NOW]);
  });
});
