import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import { computeChange, type Computed, type ComputedChange } from './twin-change.js';
import type { StoredThing, TwinCommand } from './twin.types.js';

const ID = 'org.example:t1';
const opts = (now = '2026-01-01T00:00:10.000Z') => ({ now, maxSize: 100 * 1024, nextRevision: 2 });

function thing(doc: Partial<StoredThing['doc']> = {}, metadata: Record<string, string> = {}): StoredThing {
  return {
    thingId: ID,
    namespace: 'org.example',
    doc: { thingId: ID, policyId: ID, ...doc },
    revision: 1,
    created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z',
    metadata,
  };
}

function reading(ts: string, properties: Record<string, unknown>): TwinCommand {
  return {
    type: 'merge',
    thingId: ID,
    path: [],
    origin: 'mqtt',
    sourceTime: ts,
    value: { features: { env: { properties } } },
  };
}

function changed(c: Computed): ComputedChange {
  if (c.noop) throw new Error('expected a change');
  return c;
}

describe('computeChange', () => {
  it('PUT of a new thing creates it with policyId = thingId and status 201', () => {
    const c = changed(
      computeChange(null, { type: 'modify', thingId: ID, path: [], value: {}, origin: 'rest' }, opts()),
    );
    expect(c).toMatchObject({ action: 'created', status: 201, next: { doc: { thingId: ID, policyId: ID } } });
  });

  it('a sub-path PUT that creates the path is "created"/201, replacing it is "modified"/204', () => {
    const cmd: TwinCommand = {
      type: 'modify',
      thingId: ID,
      path: ['attributes', 'a'],
      value: 1,
      origin: 'rest',
    };
    expect(changed(computeChange(thing(), cmd, opts()))).toMatchObject({ action: 'created', status: 201 });
    expect(changed(computeChange(thing({ attributes: { a: 0 } }), cmd, opts()))).toMatchObject({
      action: 'modified',
      status: 204,
    });
  });

  it('a whole-thing PUT journals the thing as stored, not the request body', () => {
    const current = thing({ policyId: 'org.example:shared', attributes: { old: true } });
    const put = (value: unknown): ComputedChange =>
      changed(
        computeChange(current, { type: 'modify', thingId: ID, path: [], value, origin: 'rest' }, opts()),
      );
    // No policyId in the body: the thing keeps its policy, and the journal says so.
    const kept = put({ features: { f: { properties: { p: 1 } } }, attributes: { a: 1 } });
    expect(kept).toMatchObject({ action: 'modified', status: 204 });
    expect(kept.journalValue).toEqual(kept.next?.doc);
    expect(Object.keys(kept.journalValue as object)).toEqual([
      'thingId',
      'policyId',
      'attributes',
      'features',
    ]);
    expect(kept.journalValue).toEqual({
      thingId: ID,
      policyId: 'org.example:shared',
      attributes: { a: 1 },
      features: { f: { properties: { p: 1 } } },
    });
    // An empty body replaces everything but the identity and the policy.
    expect(put({}).journalValue).toEqual({ thingId: ID, policyId: 'org.example:shared' });
    // A sub-path PUT still journals just the value written there.
    const sub = changed(
      computeChange(
        current,
        { type: 'modify', thingId: ID, path: ['attributes'], value: { b: 2 }, origin: 'rest' },
        opts(),
      ),
    );
    expect(sub.journalValue).toEqual({ b: 2 });
  });

  it('records a source time for every leaf a reading writes', () => {
    const c = changed(computeChange(thing(), reading('2026-01-01T00:00:05.000Z', { t: 20, rh: 40 }), opts()));
    expect(c.next?.metadata).toEqual({
      '/features/env/properties/t': '2026-01-01T00:00:05.000Z',
      '/features/env/properties/rh': '2026-01-01T00:00:05.000Z',
    });
  });

  it('a late reading does not overwrite a newer value, but newer leaves in it still apply', () => {
    const current = thing(
      { features: { env: { properties: { t: 22, rh: 41 } } } },
      {
        '/features/env/properties/t': '2026-01-01T00:00:08.000Z',
        '/features/env/properties/rh': '2026-01-01T00:00:01.000Z',
      },
    );
    const c = changed(computeChange(current, reading('2026-01-01T00:00:05.000Z', { t: 19, rh: 45 }), opts()));
    expect(c.next?.doc.features?.env.properties).toEqual({ t: 22, rh: 45 });
    expect(c.journalValue).toEqual({ features: { env: { properties: { rh: 45 } } } });
  });

  it('a reading older than every stored leaf changes nothing', () => {
    const current = thing(
      { features: { env: { properties: { t: 22 } } } },
      { '/features/env/properties/t': '2026-01-01T00:00:08.000Z' },
    );
    expect(computeChange(current, reading('2026-01-01T00:00:05.000Z', { t: 19 }), opts())).toEqual({
      noop: true,
      value: current.doc,
    });
  });

  it('deleting a feature forgets the source times below it', () => {
    const current = thing(
      { features: { env: { properties: { t: 22 } } } },
      { '/features/env/properties/t': '2026-01-01T00:00:08.000Z' },
    );
    const c = changed(
      computeChange(
        current,
        { type: 'delete', thingId: ID, path: ['features', 'env'], origin: 'rest' },
        opts(),
      ),
    );
    expect(c.next?.metadata).toEqual({});
  });

  it('rejects a change that makes the thing too large, with Ditto’s code', () => {
    const cmd: TwinCommand = {
      type: 'modify',
      thingId: ID,
      path: ['attributes', 'blob'],
      value: 'x'.repeat(2000),
      origin: 'rest',
    };
    expect(() => computeChange(thing(), cmd, { ...opts(), maxSize: 1024 })).toThrow(DomainError);
  });

  it('counts the thing’s size in UTF-8 bytes of its JSON, as Ditto’s limit does', () => {
    const withText = (text: string): TwinCommand => ({
      type: 'modify',
      thingId: ID,
      path: ['attributes', 'text'],
      value: text,
      origin: 'rest',
    });
    const small = { ...opts(), maxSize: 1024 };
    expect(() => computeChange(thing(), withText('e'.repeat(600)), small)).not.toThrow();
    // The same 600 characters take two bytes each.
    expect(() => computeChange(thing(), withText('é'.repeat(600)), small)).toThrow(DomainError);
  });

  it('If-Match with a stale revision is a 412 and If-None-Match: * on an existing thing too', () => {
    const put = (preconditions: TwinCommand['preconditions']): TwinCommand => ({
      type: 'modify',
      thingId: ID,
      path: [],
      value: {},
      origin: 'rest',
      preconditions,
    });
    expect(() => computeChange(thing(), put({ ifMatch: '"rev:7"' }), opts())).toThrow(/precondition/);
    expect(() => computeChange(thing(), put({ ifNoneMatch: '*' }), opts())).toThrow(/precondition/);
    expect(() => computeChange(thing(), put({ ifMatch: '"rev:1"' }), opts())).not.toThrow();
  });

  it('reports the times it wrote, only of the changed leaves (what the journal records)', () => {
    const current = thing(
      { features: { env: { properties: { t: 1, h: 2 } } } },
      {
        '/features/env/properties/t': '2026-01-01T00:00:01.000Z',
        '/features/env/properties/h': '2026-01-01T00:00:01.000Z',
      },
    );
    const merged = changed(
      computeChange(current, reading('2026-01-01T00:00:05.000Z', { t: 3, h: null }), opts()),
    );
    // h is deleted: no time of its own, and it is gone from the thing's times.
    expect(merged.leafTimes).toEqual({ '/features/env/properties/t': '2026-01-01T00:00:05.000Z' });
    expect(merged.next?.metadata).toEqual({ '/features/env/properties/t': '2026-01-01T00:00:05.000Z' });
    const put = changed(
      computeChange(
        current,
        {
          type: 'modify',
          thingId: ID,
          path: ['features', 'env', 'properties', 'h'],
          value: { a: 1 },
          origin: 'rest',
        },
        opts(),
      ),
    );
    expect(put.leafTimes).toEqual({ '/features/env/properties/h/a': '2026-01-01T00:00:10.000Z' });
    const deleted = changed(
      computeChange(
        current,
        { type: 'delete', thingId: ID, path: ['features', 'env'], origin: 'rest' },
        opts(),
      ),
    );
    expect(deleted.leafTimes).toBeUndefined();
  });
});
