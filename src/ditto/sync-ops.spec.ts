import { describe, expect, it } from '@jest/globals';
import { CursorTracker } from './sync-lanes.js';
import {
  applyChange,
  correlationIdFor,
  isEcho,
  namespaceFilter,
  needsIdentity,
  overlaps,
  parseEventTopic,
  sameJson,
  toWireOp,
  withIdentity,
} from './sync-ops.js';

const entry = (action: 'created' | 'modified' | 'merged' | 'deleted', path: string, value?: unknown) => ({
  thingId: 'org.example:pump',
  action,
  path,
  value,
});

describe('journal entry → Ditto request', () => {
  it.each([
    [entry('created', '/', { thingId: 'org.example:pump', policyId: 'p:1' }), 'PUT', []],
    [entry('modified', '/attributes/location/floor', 3), 'PUT', ['attributes', 'location', 'floor']],
    [
      entry('created', '/features/lamp/desiredProperties/on', true),
      'PUT',
      ['features', 'lamp', 'desiredProperties', 'on'],
    ],
    [entry('merged', '/features', { lamp: { properties: { on: null } } }), 'PATCH', ['features']],
    [entry('deleted', '/attributes/room 1'), 'DELETE', ['attributes', 'room 1']],
    [entry('deleted', '/'), 'DELETE', []],
  ])('%j is %s on the same path', (e, verb, path) => {
    const op = toWireOp(e);
    expect(op).toMatchObject({ verb, thingId: 'org.example:pump', path });
    expect(op.body).toEqual(e.value);
  });

  it('adds thingId and policyId to whole-thing bodies that lack them, keeping their own', () => {
    const patch = toWireOp(entry('merged', '/', { attributes: { a: 1 } }));
    expect(needsIdentity(patch)).toBe(true);
    expect(withIdentity(patch, 'org.example:policy').body).toEqual({
      thingId: 'org.example:pump',
      policyId: 'org.example:policy',
      attributes: { a: 1 },
    });
    const put = toWireOp(entry('modified', '/', { thingId: 'org.example:pump', policyId: 'own:p' }));
    expect(needsIdentity(put)).toBe(false);
    expect(needsIdentity(toWireOp(entry('modified', '/attributes', {})))).toBe(false);
  });
});

describe('Ditto events', () => {
  it('parses twin event topics and ignores everything else', () => {
    expect(parseEventTopic('org.example/pump/things/twin/events/merged')).toEqual({
      thingId: 'org.example:pump',
      action: 'merged',
    });
    expect(parseEventTopic('org.example/pump/things/live/messages/hello')).toBeNull();
    expect(parseEventTopic('org.example/pump/things/twin/commands/modify')).toBeNull();
  });

  it('recognises the echoes of its own requests', () => {
    const id = correlationIdFor({ thingId: 'org.example:pump', revision: 7 });
    expect(isEcho(id)).toBe(true);
    expect(isEcho('3f2a-some-client')).toBe(false);
    expect(isEcho(undefined)).toBe(false);
  });
});

describe('thing algebra for the reconcile', () => {
  const doc = { thingId: 'a:b', policyId: 'a:b', attributes: { x: 1, y: { z: 2 } } };

  it('applies modify, merge and delete on a path, tolerating what replay meets', () => {
    expect(applyChange(doc, { action: 'modified', path: ['attributes', 'y', 'z'], value: 3 })).toEqual({
      ...doc,
      attributes: { x: 1, y: { z: 3 } },
    });
    expect(applyChange(doc, { action: 'merged', path: ['attributes'], value: { x: null, w: 4 } })).toEqual({
      ...doc,
      attributes: { y: { z: 2 }, w: 4 },
    });
    expect(applyChange(doc, { action: 'deleted', path: ['attributes', 'nope'] })).toEqual(doc);
    expect(applyChange(doc, { action: 'deleted', path: [] })).toBeNull();
    expect(applyChange(null, { action: 'modified', path: ['attributes'], value: {} })).toBeNull();
  });

  it('compares JSON regardless of key order', () => {
    expect(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
  });

  it('finds overlapping paths: equal, ancestor or descendant', () => {
    expect(overlaps(['attributes', 'a'], ['attributes', 'a', 'b'])).toBe(true);
    expect(overlaps([], ['features'])).toBe(true);
    expect(overlaps(['attributes', 'a'], ['attributes', 'b'])).toBe(false);
  });

  it('limits the sync to DITTO_NAMESPACES, all of them when empty', () => {
    expect(namespaceFilter('')('any.ns:x')).toBe(true);
    const only = namespaceFilter(' org.a , org.b');
    expect(only('org.a:x')).toBe(true);
    expect(only('org.c:x')).toBe(false);
  });
});

describe('the persisted cursor', () => {
  it('stays before the oldest unfinished change while later ones finish', () => {
    const t = new CursorTracker('10');
    const f11 = t.add('11', '2026-01-01T00:00:00Z');
    const f12 = t.add('12', '2026-01-01T00:00:01Z');
    const f15 = t.add('15', '2026-01-01T00:00:02Z');
    f12();
    f15();
    expect(t.cursor).toBe('10');
    expect(t.unfinished).toBe(1);
    expect(t.oldestUnfinishedAt).toBe('2026-01-01T00:00:00Z');
    f11();
    expect(t.cursor).toBe('15');
    expect(t.unfinished).toBe(0);
    expect(t.oldestUnfinishedAt).toBeNull();
  });
});
