import type { Desired, Features } from '../contract.js';
import type { Rng } from '../rng.js';
import { desiredSwitch, round, type Profile, type SignalModel } from './model.js';

/**
 * A machine with a small continuous-time Markov chain over idle, running and fault. While
 * switched on it alternates between jobs (running) and pauses (idle). A running machine
 * sometimes starts to degrade: for one to three minutes its vibration climbs and spikes and
 * it runs hotter, then it faults. A fault stops it until it is repaired (mean 4 min), after
 * which it is idle. Switching it off stops a job at once; switching it on starts one at once;
 * neither clears a fault.
 *
 * Reports `machine` {state, on, vibration mm/s RMS, temperature °C, operatingHours, faults};
 * applies desired `machine.on` (boolean, or "on"/"off").
 */

export type MachineState = 'idle' | 'running' | 'fault';

/** Transition rates, per second. */
export const RATES = {
  start: 1 / (5 * 60),
  finish: 1 / (20 * 60),
  degrade: 1 / (45 * 60),
  repair: 1 / (4 * 60),
} as const;
export const PRECURSOR_SECONDS = { min: 60, max: 180 } as const;

const AMBIENT = 24;
const RUNNING_HEAT = 26;
const DEGRADED_HEAT = 15;
const THERMAL_TIME_CONSTANT_S = 10 * 60;

/** Probability that an event of the given rate happens within dt seconds. */
const within = (rate: number, dt: number): number => 1 - Math.exp(-rate * dt);

interface Degradation {
  elapsed: number;
  duration: number;
}

export class MachineModel implements SignalModel {
  state: MachineState;
  private on = true;
  private degradation: Degradation | null = null;
  /** ISO 10816 class II "good" is below 2.8 mm/s; each machine sits somewhere around it. */
  private readonly runningVibration: number;
  private temperature: number;
  private operatingSeconds: number;
  private faults = 0;

  constructor(private readonly rng: Rng) {
    this.runningVibration = rng.uniform(1.8, 3.2);
    this.state = rng.chance(0.6) ? 'running' : 'idle';
    this.temperature = AMBIENT + (this.state === 'running' ? RUNNING_HEAT * 0.8 : 2);
    this.operatingSeconds = rng.uniform(100, 20_000) * 3600;
  }

  /** The fraction of the precursor phase gone by, 0 when the machine is not degrading. */
  get degradationLevel(): number {
    return this.degradation ? Math.min(1, this.degradation.elapsed / this.degradation.duration) : 0;
  }

  step(dtSeconds: number, _now: number, desired: Desired): Features {
    const dt = Math.max(0, dtSeconds);
    this.applySwitch(desiredSwitch(desired, 'machine', 'on'));
    this.transition(dt);
    if (this.state === 'running') this.operatingSeconds += dt;

    const level = this.degradationLevel;
    const target =
      AMBIENT +
      (this.state === 'running' ? RUNNING_HEAT : 0) +
      (this.degradation ? DEGRADED_HEAT * level : 0);
    this.temperature = target + (this.temperature - target) * Math.exp(-dt / THERMAL_TIME_CONSTANT_S);

    return {
      machine: {
        state: this.state,
        on: this.on,
        vibration: round(Math.max(0, this.vibration(level)), 2),
        temperature: round(this.temperature + this.rng.normal(0, 0.1), 1),
        operatingHours: round(this.operatingSeconds / 3600, 3),
        faults: this.faults,
      },
    };
  }

  private applySwitch(wanted: boolean | undefined): void {
    if (wanted === undefined || wanted === this.on) return;
    this.on = wanted;
    if (wanted && this.state === 'idle') this.state = 'running';
    if (!wanted && this.state === 'running') {
      this.state = 'idle';
      this.degradation = null;
    }
  }

  private transition(dt: number): void {
    switch (this.state) {
      case 'idle':
        if (this.on && this.rng.chance(within(RATES.start, dt))) this.state = 'running';
        return;
      case 'running':
        if (this.degradation) {
          this.degradation.elapsed += dt;
          if (this.degradation.elapsed >= this.degradation.duration) {
            this.state = 'fault';
            this.degradation = null;
            this.faults++;
          }
        } else if (this.rng.chance(within(RATES.degrade, dt))) {
          this.degradation = {
            elapsed: 0,
            duration: this.rng.uniform(PRECURSOR_SECONDS.min, PRECURSOR_SECONDS.max),
          };
        } else if (this.rng.chance(within(RATES.finish, dt))) {
          this.state = 'idle';
        }
        return;
      case 'fault':
        if (this.rng.chance(within(RATES.repair, dt))) this.state = 'idle';
        return;
    }
  }

  /** Vibration velocity, mm/s RMS: the precursor of a fault shows as growth plus spikes. */
  private vibration(level: number): number {
    switch (this.state) {
      case 'idle':
        return 0.4 + this.rng.normal(0, 0.05);
      case 'fault':
        return 0.15 + Math.abs(this.rng.normal(0, 0.05));
      case 'running': {
        let v = this.runningVibration * (1 + this.rng.normal(0, 0.08));
        if (this.degradation) {
          v += this.runningVibration * 2.5 * level * level;
          if (this.rng.chance(0.1 + 0.4 * level)) v += this.runningVibration * this.rng.uniform(1, 3);
        }
        return v;
      }
    }
  }
}

export const machineProfile: Profile = {
  name: 'machine',
  features: ['machine'],
  create: (rng) => new MachineModel(rng),
  understands: (desired) => desiredSwitch(desired, 'machine', 'on') !== undefined,
};
