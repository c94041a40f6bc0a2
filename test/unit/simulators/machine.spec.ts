import { describe, expect, it } from '@jest/globals';
import { MachineModel, machineProfile, type MachineState } from '../../../simulators/profiles/machine.js';
import { createRng } from '../../../simulators/rng.js';
import { at, HOUR, mean, run, type Sample } from './helpers.js';

const START = at('2025-03-12T00:00:00Z');
const state = (s: Sample): MachineState => s.features.machine.state as MachineState;
const vibration = (s: Sample): number => s.features.machine.vibration as number;
const temperature = (s: Sample): number => s.features.machine.temperature as number;

/** Three days at one reading per second: enough for dozens of faults. */
const days = run(new MachineModel(createRng('markov')), START, START + 72 * HOUR, 1);

describe('machine profile: Markov chain', () => {
  it('visits idle, running and fault, mostly running while switched on', () => {
    const share = (wanted: MachineState) => days.filter((s) => state(s) === wanted).length / days.length;
    expect(share('running')).toBeGreaterThan(0.5);
    expect(share('idle')).toBeGreaterThan(0.05);
    expect(share('fault')).toBeGreaterThan(0.005);
    expect(share('fault')).toBeLessThan(0.2);
  });

  it('leaves a fault only by repair, to idle, and counts faults', () => {
    let faults = 0;
    const transitions = new Set<string>();
    for (let i = 1; i < days.length; i++) {
      const [from, to] = [state(days[i - 1]), state(days[i])];
      if (from !== to) transitions.add(`${from}→${to}`);
      if (to === 'fault' && from !== 'fault') faults++;
    }
    expect([...transitions].sort()).toEqual(['fault→idle', 'idle→running', 'running→fault', 'running→idle']);
    expect(faults).toBeGreaterThan(10);
    expect((days.at(-1) as Sample).features.machine.faults).toBe(faults);
  });

  it('vibrates and heats more when running, and spikes in the minute before a fault', () => {
    const running = days.filter((s) => state(s) === 'running');
    const idle = days.filter((s) => state(s) === 'idle');
    expect(mean(running.map(vibration))).toBeGreaterThan(3 * mean(idle.map(vibration)));
    expect(mean(running.map(temperature))).toBeGreaterThan(mean(idle.map(temperature)) + 5);

    const beforeFault = new Set<number>();
    for (let i = 1; i < days.length; i++) {
      if (state(days[i]) === 'fault' && state(days[i - 1]) === 'running') {
        for (let j = Math.max(0, i - 60); j < i; j++) beforeFault.add(j);
      }
    }
    const normal = days.filter((s, i) => state(s) === 'running' && !beforeFault.has(i)).map(vibration);
    const precursor = [...beforeFault].map((i) => vibration(days[i]));
    const p99 = [...normal].sort((a, b) => a - b)[Math.floor(normal.length * 0.99)];
    expect(mean(precursor)).toBeGreaterThan(1.5 * mean(normal));
    // Spikes: a good part of the last minute before a fault is above nearly all normal running.
    expect(precursor.filter((v) => v > p99).length / precursor.length).toBeGreaterThan(0.3);
  });
});

describe('machine profile: desired on/off', () => {
  it('switches off at once and stays idle; switches on at once', () => {
    const model = new MachineModel(createRng('switch'));
    const offRun = run(model, START, START + 2 * HOUR, 1, { machine: { on: false } });
    expect(offRun.every((s) => state(s) !== 'running')).toBe(true);
    expect(offRun.every((s) => s.features.machine.on === false)).toBe(true);
    const idleAt = offRun.findIndex((s) => state(s) === 'idle');
    const onRun = run(model, START + 2 * HOUR, START + 2 * HOUR + 5000, 1, { machine: { on: true } });
    // Any fault would have been repaired within two hours; then the switch starts a job at once.
    expect(idleAt).toBeGreaterThanOrEqual(0);
    expect(state(onRun[0])).toBe('running');
    expect(onRun[0].features.machine.on).toBe(true);
  });

  it('stops a running job when switched off, also with the words "on" and "off"', () => {
    const model = new MachineModel(createRng('words'));
    // A new machine is idle or running, never faulted, so off leaves it idle.
    const [off] = run(model, START, START + 1000, 1, { machine: { on: 'off' } });
    expect(state(off)).toBe('idle');
    const [on] = run(model, START + 1000, START + 2000, 1, { machine: { on: 'on' } });
    expect(state(on)).toBe('running');
    const [offAgain] = run(model, START + 2000, START + 3000, 1, { machine: { on: false } });
    expect(state(offAgain)).toBe('idle');
    expect(machineProfile.understands({ machine: { on: 'off' } })).toBe(true);
    expect(machineProfile.understands({ machine: { on: 1 } })).toBe(false);
  });
});
