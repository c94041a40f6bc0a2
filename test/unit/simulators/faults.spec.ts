import { describe, expect, it } from '@jest/globals';
import { telemetryTopic, type Reading } from '../../../simulators/contract.js';
import {
  buildMalformed,
  FaultInjector,
  MALFORMED_KINDS,
  MAX_HELD,
  NO_FAULTS,
  OVERSIZE_BYTES,
  type FaultRates,
  type MalformedKind,
  type Outgoing,
} from '../../../simulators/faults.js';
import { createRng } from '../../../simulators/rng.js';
import { parseDeviceMessage } from '../../../src/ingest/device-contract.js';

const THING = 'org.example.sim:energy-1';

function reading(seq: number): Reading {
  return {
    ts: 1_700_000_000_000 + seq * 1000,
    seq,
    features: {
      energy: { power: 1000 + seq, energy: 10.5, breakdown: { base: 500, hvac: 0 } },
      hvac: { on: true, setpoint: 19.5 },
    },
  };
}

/** Everything an injector publishes for n readings, flushed at the end. */
function publishAll(rates: FaultRates, n: number, seed = 'faults'): Outgoing[] {
  const injector = new FaultInjector(THING, rates, createRng(seed));
  const out: Outgoing[] = [];
  for (let seq = 1; seq <= n; seq++) out.push(...injector.plan(reading(seq)));
  out.push(...injector.flush());
  return out;
}

/** The platform ingest's default INGEST_MAX_PAYLOAD_BYTES. */
const MAX_PAYLOAD_BYTES = 64 * 1024;

/**
 * What the platform's ingest makes of a message: the reason it refuses it, or the kind it
 * accepts it as. The simulator is checked against the ingest's own contract rather than a copy
 * of its rules, which once called a valid message (ts as an ISO string) malformed.
 */
function verdict(topic: string, payload: string | Buffer, maxPayloadBytes = MAX_PAYLOAD_BYTES): string {
  const parsed = parseDeviceMessage(
    { topic, payload: Buffer.from(payload), receivedAt: Date.now(), retained: false },
    { maxPayloadBytes, maxFutureSkewMs: 60_000 },
  );
  return parsed.kind === 'rejected' ? parsed.reason : parsed.kind;
}

describe('FaultInjector', () => {
  it('without faults publishes each reading once, in order, on the telemetry topic', () => {
    const out = publishAll(NO_FAULTS, 100);
    expect(out.map((o) => o.kind === 'reading' && o.reading.seq)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    expect(
      out.every((o) => o.topic === telemetryTopic(THING) && verdict(o.topic, o.payload) === 'telemetry'),
    ).toBe(true);
    expect(JSON.parse(out[0].payload as string)).toEqual(reading(1));
  });

  it('honours each rate statistically under a seed', () => {
    const n = 20_000;
    const rates = { duplicate: 0.1, outOfOrder: 0.05, malformed: 0.02 };
    const out = publishAll(rates, n);
    const count = (pick: (o: Outgoing) => boolean) => out.filter(pick).length;
    // Binomial standard deviations are about 42, 31 and 20: ±10 % is several of them.
    expect(count((o) => o.kind === 'duplicate')).toBeGreaterThan(0.9 * 0.1 * n);
    expect(count((o) => o.kind === 'duplicate')).toBeLessThan(1.1 * 0.1 * n);
    expect(count((o) => o.kind === 'reading' && o.late)).toBeGreaterThan(0.9 * 0.05 * n);
    expect(count((o) => o.kind === 'reading' && o.late)).toBeLessThan(1.1 * 0.05 * n);
    expect(count((o) => o.kind === 'malformed')).toBeGreaterThan(0.85 * 0.02 * n);
    expect(count((o) => o.kind === 'malformed')).toBeLessThan(1.15 * 0.02 * n);
    // Every valid reading goes out exactly once.
    expect(count((o) => o.kind === 'reading')).toBe(n);
  });

  it('delivers a held-back reading after a newer one, and nothing else out of order', () => {
    const out = publishAll({ ...NO_FAULTS, outOfOrder: 0.3 }, 2000, 'order');
    let newest = 0;
    let late = 0;
    for (const o of out) {
      if (o.kind !== 'reading') continue;
      const older = o.reading.ts < newest;
      expect(older).toBe(o.late);
      if (older) late++;
      newest = Math.max(newest, o.reading.ts);
    }
    expect(late).toBeGreaterThan(400);
    // A reading is never more than MAX_HELD readings late.
    const seqs = out
      .filter((o) => o.kind === 'reading')
      .map((o) => (o.kind === 'reading' ? o.reading.seq : 0));
    seqs.forEach((seq, i) => expect(Math.abs(seq - (i + 1))).toBeLessThanOrEqual(MAX_HELD));
  });

  it('republishes a duplicate with the identical payload right after the original', () => {
    const out = publishAll({ ...NO_FAULTS, duplicate: 0.5 }, 200, 'dups');
    const duplicates = out.flatMap((o, i) => (o.kind === 'duplicate' ? [i] : []));
    expect(duplicates.length).toBeGreaterThan(50);
    for (const i of duplicates) {
      const original = out[i - 1];
      expect(original.kind).toBe('reading');
      expect(out[i].payload).toBe(original.payload);
    }
  });

  it('decides the same faults for the same seed', () => {
    const rates = { duplicate: 0.2, outOfOrder: 0.2, malformed: 0.2 };
    const plan = (seed: string) =>
      publishAll(rates, 300, seed).map((o) => `${o.kind}:${o.topic}:${String(o.payload)}`);
    expect(plan('a')).toEqual(plan('a'));
    expect(plan('a')).not.toEqual(plan('b'));
  });
});

describe('malformed messages', () => {
  const rng = createRng('malformed');
  const samples = (kind: MalformedKind) =>
    Array.from({ length: 40 }, (_, i) => buildMalformed(kind, THING, reading(i + 1), rng));

  it('mixes every kind', () => {
    const kinds = publishAll({ ...NO_FAULTS, malformed: 1 }, 200).flatMap((o) =>
      o.kind === 'malformed' ? [o.malformed] : [],
    );
    expect(new Set(kinds)).toEqual(new Set(MALFORMED_KINDS));
  });

  it.each([
    ['not-json', 'json_invalid'],
    ['nan', 'json_invalid'],
    ['wrong-types', 'schema_invalid'],
    ['bad-topic', 'thing_id_invalid'],
    ['oversize', 'payload_too_large'],
  ] as const)('%s: every one is refused by the ingest as %s', (kind, reason) => {
    const verdicts = new Set(samples(kind).map((m) => verdict(m.topic, m.payload)));
    expect(verdicts).toEqual(new Set([reason]));
  });

  it('not-json: truncated JSON, key=value text or raw bytes, none of which parses', () => {
    const all = samples('not-json');
    expect(new Set(all.map((m) => m.variant))).toEqual(new Set(['truncated', 'key-value-text', 'binary']));
    for (const m of all) expect(() => JSON.parse(m.payload.toString())).toThrow();
  });

  it('nan: a bare NaN or Infinity where a number belongs', () => {
    for (const m of samples('nan')) {
      expect(m.payload).toMatch(/"power":(NaN|Infinity|-Infinity)/);
      expect(() => JSON.parse(m.payload.toString())).toThrow();
    }
  });

  it('wrong-types: valid JSON that breaks the payload types', () => {
    const all = samples('wrong-types');
    expect(new Set(all.map((m) => m.variant)).size).toBe(5);
    for (const m of all) {
      expect(() => JSON.parse(m.payload.toString())).not.toThrow();
      expect({ variant: m.variant, verdict: verdict(m.topic, m.payload) }).toEqual({
        variant: m.variant,
        verdict: 'schema_invalid',
      });
    }
  });

  it('bad-topic: a valid payload on a topic whose thing id is invalid', () => {
    for (const m of samples('bad-topic')) {
      expect(m.topic).toMatch(/^things\/[^/]+\/telemetry$/);
      expect(m.topic).not.toBe(telemetryTopic(THING));
      expect(verdict(m.topic, m.payload)).toBe('thing_id_invalid');
      expect(verdict(telemetryTopic(THING), m.payload)).toBe('telemetry');
    }
  });

  it('oversize: a well-formed reading of more than 70 kB', () => {
    for (const m of samples('oversize')) {
      expect(Buffer.byteLength(m.payload)).toBeGreaterThanOrEqual(OVERSIZE_BYTES);
      expect(Buffer.byteLength(m.payload)).toBeLessThan(OVERSIZE_BYTES + 2048);
      expect(verdict(m.topic, m.payload)).toBe('payload_too_large');
      expect(verdict(m.topic, m.payload, 1024 * 1024)).toBe('telemetry');
    }
  });

  it('carries the ts and seq of the reading it accompanies, so it never takes a new seq', () => {
    const injector = new FaultInjector(THING, { ...NO_FAULTS, malformed: 1 }, createRng('seq'));
    const [valid, bad] = injector.plan(reading(7));
    expect(valid.kind === 'reading' && valid.reading.seq).toBe(7);
    expect(bad.kind).toBe('malformed');
    for (const kind of ['nan', 'bad-topic', 'oversize'] as const) {
      expect(buildMalformed(kind, THING, reading(7), rng).payload).toContain(
        `"ts":${reading(7).ts},"seq":7,`,
      );
    }
  });
});
