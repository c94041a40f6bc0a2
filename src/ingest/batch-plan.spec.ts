import { describe, expect, it } from '@jest/globals';
import { authContext } from '../auth/auth-context.js';
import { leafCount, presenceLeaves, twinCommands, type TimedLeaf } from './batch-plan.js';

const T = Date.parse('2026-12-07T10:00:00.000Z');
const A = 'org.home:meter';
const B = 'org.home:plug';

function leaf(thingId: string, path: string, value: unknown, time = T, seq: number | null = null): TimedLeaf {
  return { thingId, path: ['features', ...path.split('/')], value, time, seq };
}

describe('twinCommands', () => {
  it('merges one patch per thing with the newest value of each leaf and that value’s time', () => {
    const cmds = twinCommands(
      [
        leaf(A, 'energy/properties/power', 5, T + 2_000),
        leaf(A, 'energy/properties/power', 7, T + 1_000),
        leaf(A, 'energy/properties/total', 100, T),
        leaf(B, 'switch/properties/on', true, T),
      ],
      [],
      false,
    );
    expect(cmds).toEqual([
      {
        type: 'merge',
        thingId: A,
        path: ['features'],
        value: { energy: { properties: { power: 5, total: 100 } } },
        origin: 'mqtt',
        leafTimes: {
          '/features/energy/properties/power': new Date(T + 2_000).toISOString(),
          '/features/energy/properties/total': new Date(T).toISOString(),
        },
      },
      {
        type: 'merge',
        thingId: B,
        path: ['features'],
        value: { switch: { properties: { on: true } } },
        origin: 'mqtt',
        leafTimes: { '/features/switch/properties/on': new Date(T).toISOString() },
      },
    ]);
  });

  it('breaks a tie of times by the higher seq, then by the later reading', () => {
    const bySeq = twinCommands(
      [leaf(A, 'e/properties/p', 'seq 2', T, 2), leaf(A, 'e/properties/p', 'seq 1', T, 1)],
      [],
      false,
    );
    expect(bySeq[0].type === 'merge' && bySeq[0].value).toEqual({ e: { properties: { p: 'seq 2' } } });
    const later = twinCommands(
      [leaf(A, 'e/properties/p', 'first', T), leaf(A, 'e/properties/p', 'then', T)],
      [],
      false,
    );
    expect(later[0].type === 'merge' && later[0].value).toEqual({ e: { properties: { p: 'then' } } });
  });

  it('nests a reading of a child under its parent’s object when both arrive in one batch', () => {
    const [cmd] = twinCommands(
      [leaf(A, 'e/properties/p/x', 1), leaf(A, 'e/properties/p', { y: 2 })],
      [],
      false,
    );
    expect(cmd.type === 'merge' && cmd.value).toEqual({ e: { properties: { p: { y: 2, x: 1 } } } });
  });

  it('with auto-creation merges the whole thing, linking the device policy if it is created', () => {
    const [cmd] = twinCommands([leaf(A, 'e/properties/p', 1)], [], { policyId: 'platform:devices' });
    expect(cmd).toMatchObject({
      type: 'merge',
      path: [],
      value: { features: { e: { properties: { p: 1 } } } },
      policyIdIfCreated: 'platform:devices',
    });
  });

  it('puts the devices’ own commands after the merges, in arrival order, with their correlation and subject', () => {
    const auth = authContext(['device:org.home:plug']);
    const cmds = twinCommands(
      [leaf(A, 'e/properties/p', 1)],
      [
        {
          thingId: B,
          command: {
            type: 'modify',
            path: ['attributes', 'room'],
            value: 'hall',
            correlationId: 'c-1',
            auth,
          },
        },
        { thingId: A, command: { type: 'merge', path: ['features'], value: { e: {} } } },
      ],
      false,
    );
    expect(cmds.map((c) => [c.thingId, c.type])).toEqual([
      [A, 'merge'],
      [B, 'modify'],
      [A, 'merge'],
    ]);
    expect(cmds[1]).toEqual({
      type: 'modify',
      thingId: B,
      path: ['attributes', 'room'],
      value: 'hall',
      origin: 'mqtt',
      correlationId: 'c-1',
      auth,
    });
    expect(cmds[2]).not.toHaveProperty('correlationId');
  });

  it('turns presence into Ditto’s ConnectionStatus feature', () => {
    const [cmd] = twinCommands(presenceLeaves(A, false, T), [], false);
    expect(cmd.type === 'merge' && cmd.value).toEqual({
      ConnectionStatus: { properties: { status: 'offline', readyUntil: new Date(T).toISOString() } },
    });
  });
});

describe('leafCount', () => {
  it('counts the leaves of a patch, an empty object as one, and nothing for a non-object', () => {
    expect(leafCount({ a: 1, b: { c: 2, d: {} } })).toBe(3);
    expect(leafCount({})).toBe(1);
    expect(leafCount(5)).toBe(0);
  });
});
