import { describe, expect, it } from '@jest/globals';
import {
  desiredTopic,
  encodeReading,
  isValidNamespace,
  mergeDesired,
  parseDesired,
  statusTopic,
  telemetryTopic,
  thingIdFor,
} from '../../../simulators/contract.js';
import { createRng } from '../../../simulators/rng.js';

describe('device contract', () => {
  it('names things and topics as the contract says', () => {
    const id = thingIdFor('org.example.sim', 'energy', 3);
    expect(id).toBe('org.example.sim:energy-3');
    expect([telemetryTopic(id), statusTopic(id), desiredTopic(id)]).toEqual([
      'things/org.example.sim:energy-3/telemetry',
      'things/org.example.sim:energy-3/status',
      'things/org.example.sim:energy-3/desired',
    ]);
    expect(isValidNamespace('org.example-test.sim_2')).toBe(true);
    expect(['', 'has space', '1org', 'org..x', 'a/b'].some(isValidNamespace)).toBe(false);
  });

  it('encodes a reading as ts, seq and features only', () => {
    const text = encodeReading({ ts: 1, seq: 2, features: { f: { p: 1, n: { s: true } } } });
    expect(text).toBe('{"ts":1,"seq":2,"features":{"f":{"p":1,"n":{"s":true}}}}');
  });

  it('parses desired messages, skipping what is not an object', () => {
    expect(parseDesired('{"features":{"hvac":{"on":false,"setpoint":21},"bad":3}}')).toEqual({
      hvac: { on: false, setpoint: 21 },
    });
    expect(parseDesired(Buffer.from('{"features":{}}'))).toEqual({});
    for (const bad of ['', 'not json', '[]', '{"hvac":{"on":true}}', '{"features":[1]}']) {
      expect(parseDesired(bad)).toBeNull();
    }
  });

  it('merges desired state property by property', () => {
    const merged = mergeDesired(
      { hvac: { on: false, setpoint: 20 } },
      { hvac: { setpoint: 22 }, x: { y: 1 } },
    );
    expect(merged).toEqual({ hvac: { on: false, setpoint: 22 }, x: { y: 1 } });
  });
});

describe('Rng', () => {
  it('repeats for a seed, and forks independent streams by label', () => {
    const a = createRng('s');
    const b = createRng('s');
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    // A fork depends on the seed and label only, not on how much the parent has drawn.
    expect(createRng('s').fork('x').next()).toBe(a.fork('x').next());
    expect(createRng('s').fork('x').next()).not.toBe(createRng('s').fork('y').next());
  });

  it('draws plausible uniform and normal values', () => {
    const rng = createRng(1);
    const u = Array.from({ length: 20_000 }, () => rng.next());
    const n = Array.from({ length: 20_000 }, () => rng.normal(10, 2));
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = (xs: number[], m = mean(xs)) => Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(mean(u)).toBeCloseTo(0.5, 1);
    expect(mean(n)).toBeCloseTo(10, 1);
    expect(sd(n)).toBeCloseTo(2, 1);
    const ints = new Set(Array.from({ length: 1000 }, () => rng.int(1, 3)));
    expect(ints).toEqual(new Set([1, 2, 3]));
  });
});
