import { describe, expect, it } from '@jest/globals';
import type { PresenceRow } from './ingest.repository.js';
import { decidePresence, PresenceMemory, type PresenceEvent } from './presence.js';

const T = Date.parse('2026-12-07T10:00:00.000Z');
const ID = 'org.home:meter';

function event(over: Partial<PresenceEvent>): PresenceEvent {
  return { thingId: ID, online: true, time: T, explicit: false, receivedAt: T, ...over };
}

function stored(row: Omit<PresenceRow, 'thingId'>): Map<string, PresenceRow> {
  return new Map([[ID, { thingId: ID, ...row }]]);
}

/** The ConnectionStatus properties the leaves would write, by name. */
function written(leaves: ReturnType<typeof decidePresence>['leaves']): Record<string, unknown> {
  return Object.fromEntries(leaves.map((l) => [l.path[l.path.length - 1], l.value]));
}

describe('decidePresence', () => {
  it('brings a device it has never seen online with its first reading, from the reading time', () => {
    const { leaves, rows } = decidePresence([event({ time: T - 5_000, receivedAt: T })], new Map());
    expect(written(leaves)).toEqual({
      status: 'online',
      readySince: new Date(T - 5_000).toISOString(),
      readyUntil: '9999-12-31T23:59:59.999Z',
    });
    expect(leaves.every((l) => l.path.join('/').startsWith('features/ConnectionStatus/properties/'))).toBe(
      true,
    );
    expect(rows).toEqual([{ thingId: ID, lastSeen: T, online: true, stateAt: T - 5_000 }]);
  });

  it('writes nothing to the twin for a reading of a device already online, but moves its last-seen time', () => {
    const { leaves, rows } = decidePresence(
      [event({ time: T, receivedAt: T + 10 })],
      stored({ lastSeen: T - 60_000, online: true, stateAt: T - 60_000 }),
    );
    expect(leaves).toEqual([]);
    expect(rows).toEqual([{ thingId: ID, lastSeen: T + 10, online: true, stateAt: T - 60_000 }]);
  });

  it('lets the newest event of the batch decide, and a status message beat a reading of the same time', () => {
    const events = [
      event({ online: false, explicit: true, time: T + 1_000 }),
      event({ time: T }),
      event({ time: T + 1_000 }),
    ];
    const { leaves, rows } = decidePresence(events, new Map());
    expect(written(leaves)).toEqual({ status: 'offline', readyUntil: new Date(T + 1_000).toISOString() });
    expect(rows[0]).toMatchObject({ online: false, stateAt: T + 1_000 });
  });

  it('never revives a device seen going offline with a late online status from before that', () => {
    const { leaves, rows } = decidePresence(
      [event({ online: true, explicit: true, time: T - 1, receivedAt: T + 50 })],
      stored({ lastSeen: T, online: false, stateAt: T }),
    );
    expect(leaves).toEqual([]);
    expect(rows).toEqual([{ thingId: ID, lastSeen: T + 50, online: false, stateAt: T }]);
  });

  it('brings an offline device back online with any newer message', () => {
    const { leaves, rows } = decidePresence(
      [event({ time: T + 1 })],
      stored({ lastSeen: T, online: false, stateAt: T }),
    );
    expect(written(leaves).status).toBe('online');
    expect(rows[0]).toMatchObject({ online: true, stateAt: T + 1 });
  });

  it('decides each device on its own', () => {
    const other = 'org.home:plug';
    const { rows } = decidePresence(
      [event({}), event({ thingId: other, online: false, explicit: true })],
      new Map(),
    );
    expect(rows.map((r) => [r.thingId, r.online])).toEqual([
      [ID, true],
      [other, false],
    ]);
  });
});

describe('PresenceMemory', () => {
  it('skips the presence write of a device it wrote online recently, until the refresh is due', () => {
    const memory = new PresenceMemory(30_000);
    expect(memory.needsWrite(event({}))).toBe(true);
    memory.remember([{ thingId: ID, lastSeen: T, online: true, stateAt: T }], T);
    expect(memory.needsWrite(event({ receivedAt: T + 29_999 }))).toBe(false);
    expect(memory.needsWrite(event({ receivedAt: T + 30_000 }))).toBe(true);
  });

  it('always writes status messages, and readings of a device known offline', () => {
    const memory = new PresenceMemory(30_000);
    memory.remember([{ thingId: ID, lastSeen: T, online: true, stateAt: T }], T);
    expect(memory.needsWrite(event({ explicit: true, online: true, receivedAt: T + 1 }))).toBe(true);
    memory.markOffline([ID], T + 2);
    expect(memory.needsWrite(event({ receivedAt: T + 3 }))).toBe(true);
  });
});
