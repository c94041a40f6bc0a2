import type { Desired, Features } from '../../../simulators/contract.js';
import type { SignalModel } from '../../../simulators/profiles/index.js';

export interface Sample {
  now: number;
  features: Features;
}

/** Steps a model from `from` (exclusive) to `to` (inclusive) every dtSeconds. */
export function run(
  model: SignalModel,
  from: number,
  to: number,
  dtSeconds: number,
  desired: Desired = {},
): Sample[] {
  const samples: Sample[] = [];
  for (let now = from + dtSeconds * 1000; now <= to; now += dtSeconds * 1000) {
    samples.push({ now, features: model.step(dtSeconds, now, desired) });
  }
  return samples;
}

export const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

export const at = (iso: string): number => Date.parse(iso);

export const HOUR = 3_600_000;

/** A numeric property of a sample, e.g. num(s, 'energy', 'power'). */
export function num(sample: Sample, featureId: string, property: string): number {
  return sample.features[featureId][property] as number;
}
