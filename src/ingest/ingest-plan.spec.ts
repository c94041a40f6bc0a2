import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import type { JournalEntry } from '../journal/journal.types.js';
import type { TwinCommand } from '../twins/twin.types.js';
import type { TwinOutcome } from '../twins/twins.service.js';
import type { InboundMessage } from './device-contract.js';
import { parseBatch, planBatch, twinResults, type ThingsKnown } from './ingest-plan.js';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const LIMITS = { maxPayloadBytes: 64, maxFutureSkewMs: 60_000 };
const KNOWN = 'org.home:meter';
const NEW = 'org.home:new';
const EXISTING: ThingsKnown = { unknown: new Set(), creatable: new Set(), autoCreate: true };

function msg(topic: string, payload: string): InboundMessage {
  return { topic, payload: Buffer.from(payload), receivedAt: NOW, retained: false };
}

const reading = (thingId: string, body = '{"features":{"energy":{"power":5,"total":9}}}') =>
  msg(`things/${thingId}/telemetry`, body);

describe('parseBatch', () => {
  it('keeps what the contract accepts, dead-letters what it rejects and counts what needs nothing', () => {
    const oversized = reading(KNOWN, JSON.stringify({ features: { e: { p: 'x'.repeat(100) } } }));
    const batch = parseBatch(
      [
        reading(KNOWN),
        msg('things/bad id/telemetry', '{}'),
        oversized,
        msg(`things/${KNOWN}/desired`, '{}'),
        msg(`things/${KNOWN}/status`, 'online'),
      ],
      LIMITS,
    );
    expect(batch.accepted.map((a) => a.parsed.kind)).toEqual(['telemetry', 'status']);
    expect(batch.ignored).toBe(1);
    expect(batch.dead.map((d) => [d.reason, d.thingId])).toEqual([
      ['thing_id_invalid', null],
      ['payload_too_large', KNOWN],
    ]);
    // A dead letter keeps the payload only up to the limit.
    expect(batch.dead[1].payload.length).toBe(64);
  });
});

describe('planBatch', () => {
  it('turns each reading into a history row and a twin leaf, and each message into presence', () => {
    const plan = planBatch(parseBatch([reading(KNOWN)], LIMITS), EXISTING, 64);
    expect(plan.readings.map((r) => [r.featureId, r.path, r.value])).toEqual([
      ['energy', 'power', '5'],
      ['energy', 'total', '9'],
    ]);
    expect(plan.readingLeaves.map((l) => l.path.join('/'))).toEqual([
      'features/energy/properties/power',
      'features/energy/properties/total',
    ]);
    expect(plan.presence).toEqual([
      { thingId: KNOWN, online: true, time: NOW, explicit: false, receivedAt: NOW },
    ]);
    expect(plan.dataSources.map((d) => d.thingId)).toEqual([KNOWN]);
  });

  it('refuses the messages of a thing that does not exist unless devices may create it now', () => {
    const parsed = parseBatch([reading(KNOWN), reading(NEW)], LIMITS);
    const refused = planBatch(
      parsed,
      { unknown: new Set([NEW]), creatable: new Set(), autoCreate: false },
      64,
    );
    expect(refused.dead.map((d) => [d.reason, d.thingId])).toEqual([['thing_unknown', NEW]]);
    expect(refused.readings.every((r) => r.thingId === KNOWN)).toBe(true);

    const limited = planBatch(
      parsed,
      { unknown: new Set([NEW]), creatable: new Set(), autoCreate: true },
      64,
    );
    expect(limited.dead[0].reason).toBe('thing_create_limited');

    const created = planBatch(
      parsed,
      { unknown: new Set([NEW]), creatable: new Set([NEW]), autoCreate: true },
      64,
    );
    expect(created.dead).toEqual([]);
    expect(created.readings.map((r) => r.thingId)).toContain(NEW);
  });

  it('queues a device’s Ditto command as a command, not as data, and a status message as explicit presence', () => {
    const command = msg(
      `things/${KNOWN}/ditto`,
      JSON.stringify({
        topic: 'org.home/meter/things/twin/commands/modify',
        path: '/features/energy/properties/limit',
        value: 3,
      }),
    );
    const plan = planBatch(
      parseBatch([command, msg(`things/${KNOWN}/status`, 'offline')], { ...LIMITS, maxPayloadBytes: 4096 }),
      EXISTING,
      4096,
    );
    expect(plan.commands.map((c) => c.command.path)).toEqual([['features', 'energy', 'properties', 'limit']]);
    expect(plan.dataSources.map((d) => d.msg.topic)).toEqual([`things/${KNOWN}/status`]);
    expect(plan.presence.map((p) => [p.online, p.explicit])).toEqual([
      [true, false],
      [false, true],
    ]);
  });
});

describe('twinResults', () => {
  const plan = planBatch(parseBatch([reading(KNOWN), reading(KNOWN), reading(NEW)], LIMITS), EXISTING, 64);
  const merge = (thingId: string, value: unknown): TwinCommand => ({
    type: 'merge',
    thingId,
    path: ['features'],
    value,
    origin: 'mqtt',
    leafTimes: {},
  });
  const entry = (value: unknown, action: JournalEntry['action'] = 'merged') =>
    ({ value, action }) as JournalEntry;
  const changed = (e: JournalEntry | null): TwinOutcome => ({
    ok: true,
    change: { status: 204, thing: null, value: undefined, entry: e },
  });

  it('counts the changes, and the leaves left out because the twin held newer ones', () => {
    const cmds = [merge(KNOWN, { a: 1, b: 2, c: 3 }), merge(NEW, { a: 1 })];
    const results = twinResults([changed(entry({ a: 1 })), changed(null)], cmds, plan, 64);
    expect(results).toEqual({ rejected: [], stale: 3, twinChanges: 1 });
  });

  it('dead-letters every data message behind a refused merge, and nothing of the other things', () => {
    const cmds = [merge(KNOWN, { a: 1 }), merge(NEW, { a: 1 })];
    const refused: TwinOutcome = {
      ok: false,
      error: new DomainError(413, 'things:thing.toolarge', 'too large'),
    };
    const results = twinResults([refused, changed(entry({ a: 1 }))], cmds, plan, 64);
    expect(results.rejected.map((d) => [d.reason, d.thingId, d.message])).toEqual([
      ['command_rejected', KNOWN, 'things:thing.toolarge: too large'],
      ['command_rejected', KNOWN, 'things:thing.toolarge: too large'],
    ]);
    expect(results.twinChanges).toBe(1);
  });
});
