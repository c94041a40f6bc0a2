import type { Desired, Features, ProfileName } from '../contract.js';
import type { Rng } from '../rng.js';

/**
 * A signal model: the state of one simulated device and how it evolves. Pure apart from the
 * seeded Rng it owns, so the same seed and the same sequence of step calls give the same readings.
 */
export interface SignalModel {
  /**
   * Advances the device by `dtSeconds` to the time `now` (epoch ms) under the desired state the
   * platform last sent, and returns the features to report.
   */
  step(dtSeconds: number, now: number, desired: Desired): Features;
}

export interface Profile {
  readonly name: ProfileName;
  /** The features a device of this profile reports, for documentation and checks. */
  readonly features: readonly string[];
  create(rng: Rng): SignalModel;
  /** Whether a desired-state message holds anything this profile applies. */
  understands(desired: Desired): boolean;
}

export const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, value));

/**
 * Sensors report a fixed resolution; unrounded floats would make every payload longer. A small
 * negative value rounds to -0, which JSON sends as 0: `+ 0` makes the device's record of what it
 * sent equal what arrives.
 */
export const round = (value: number, decimals: number): number => {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor + 0;
};

/** A desired number when it is a finite number, else undefined (wrong types are ignored). */
export function desiredNumber(desired: Desired, featureId: string, property: string): number | undefined {
  const value = desired[featureId]?.[property];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A desired switch: a boolean, or the words "on" / "off". */
export function desiredSwitch(desired: Desired, featureId: string, property: string): boolean | undefined {
  const value = desired[featureId]?.[property];
  if (typeof value === 'boolean') return value;
  if (value === 'on') return true;
  if (value === 'off') return false;
  return undefined;
}

/**
 * Mean-reverting noise (Ornstein–Uhlenbeck, exact discretisation): weather anomalies and sensor
 * drift wander smoothly instead of jumping at every reading, whatever the reading rate.
 */
export class DriftingNoise {
  private value: number;

  constructor(
    private readonly rng: Rng,
    private readonly sd: number,
    private readonly timeConstantSeconds: number,
  ) {
    this.value = rng.normal(0, sd);
  }

  step(dtSeconds: number): number {
    const keep = Math.exp(-Math.max(0, dtSeconds) / this.timeConstantSeconds);
    this.value = keep * this.value + this.sd * Math.sqrt(1 - keep * keep) * this.rng.normal();
    return this.value;
  }
}
