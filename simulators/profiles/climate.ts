import type { Desired, Features } from '../contract.js';
import type { Rng } from '../rng.js';
import { OutdoorTemperature, occupancy } from './environment.js';
import { clamp, desiredNumber, DriftingNoise, round, type Profile, type SignalModel } from './model.js';

/**
 * A room climate sensor. Temperature is pulled toward the setpoint by the HVAC (time constant
 * 20 min), toward the outdoor temperature through the envelope (10 h) and up by occupants'
 * heat. CO₂ follows a single-zone mass balance: occupants exhale, demand-controlled
 * ventilation exchanges the air with outdoor air at 420 ppm. Relative humidity rises with
 * occupants and falls as the air warms.
 *
 * Reports `climate` {temperature °C, humidity %RH, co2 ppm, setpoint °C, occupancy people,
 * ventilation {airChangesPerHour}}; applies desired `climate.setpoint` (°C).
 */

export const DEFAULT_SETPOINT = 21;
export const SETPOINT_RANGE = { min: 10, max: 30 } as const;
export const OUTDOOR_CO2_PPM = 420;
/** CO₂ exhaled by one office worker, m³/s (about 0.0052 L/s). */
const CO2_PER_PERSON = 5.2e-6;
const HVAC_TIME_CONSTANT_S = 20 * 60;
const ENVELOPE_TIME_CONSTANT_S = 10 * 3600;
/** Warming of a fully occupied room, °C per hour, before the HVAC removes it. */
const OCCUPANT_HEAT_K_PER_H = 1;

/** Air changes per hour: a minimum for the building, more as people arrive (demand control). */
export function airChangesPerHour(occupancyShare: number): number {
  return 0.5 + 3 * occupancyShare;
}

/** The CO₂ level a room settles at for a number of people and an air change rate. */
export function steadyStateCo2(people: number, volume: number, airChanges: number): number {
  return OUTDOOR_CO2_PPM + (people * CO2_PER_PERSON * 1e6) / ((volume * airChanges) / 3600);
}

export interface ClimateModelOptions {
  outdoorTemperature?: (now: number) => number;
  /** Replaces the occupancy calendar (share 0..1), for tests. */
  occupancy?: (now: number) => number;
}

export class ClimateModel implements SignalModel {
  /** Room volume, m³. */
  readonly volume: number;
  readonly capacity: number;
  private readonly outdoor: OutdoorTemperature;
  private readonly presence: DriftingNoise;
  private readonly humidityDrift: DriftingNoise;
  private setpoint = DEFAULT_SETPOINT;
  private temperature: number;
  private co2: number;

  constructor(
    private readonly rng: Rng,
    private readonly options: ClimateModelOptions = {},
  ) {
    this.volume = rng.uniform(120, 400);
    this.capacity = Math.max(1, Math.round(this.volume / 12));
    this.outdoor = new OutdoorTemperature(rng.fork('weather'));
    this.presence = new DriftingNoise(rng, 0.1, 10 * 60);
    this.humidityDrift = new DriftingNoise(rng, 3, 2 * 3600);
    this.temperature = DEFAULT_SETPOINT + rng.normal(0, 0.5);
    this.co2 = OUTDOOR_CO2_PPM + rng.uniform(20, 80);
  }

  step(dtSeconds: number, now: number, desired: Desired): Features {
    const wanted = desiredNumber(desired, 'climate', 'setpoint');
    if (wanted !== undefined) this.setpoint = clamp(wanted, SETPOINT_RANGE.min, SETPOINT_RANGE.max);
    const dt = Math.max(0, dtSeconds);

    const simulated = this.outdoor.step(dt, now);
    const outdoor = this.options.outdoorTemperature?.(now) ?? simulated;
    const share = this.options.occupancy?.(now) ?? occupancy(now);
    const people = Math.max(0, Math.round(this.capacity * share * (1 + this.presence.step(dt))));
    const presentShare = people / this.capacity;

    // Exact solution of the linear first-order model for inputs held over the step, so large
    // steps (slow rates) stay stable.
    const kHvac = 1 / HVAC_TIME_CONSTANT_S;
    const kEnvelope = 1 / ENVELOPE_TIME_CONSTANT_S;
    const gain = (OCCUPANT_HEAT_K_PER_H / 3600) * presentShare;
    const equilibrium = (this.setpoint * kHvac + outdoor * kEnvelope + gain) / (kHvac + kEnvelope);
    this.temperature = equilibrium + (this.temperature - equilibrium) * Math.exp(-(kHvac + kEnvelope) * dt);

    const airChanges = airChangesPerHour(share);
    const co2Target = steadyStateCo2(people, this.volume, airChanges);
    this.co2 = co2Target + (this.co2 - co2Target) * Math.exp(-(airChanges / 3600) * dt);

    const humidity = clamp(
      45 + 10 * presentShare - 2.5 * (this.temperature - 21) + this.humidityDrift.step(dt),
      15,
      85,
    );

    return {
      climate: {
        temperature: round(this.temperature + this.rng.normal(0, 0.05), 2),
        humidity: round(humidity + this.rng.normal(0, 0.3), 1),
        co2: Math.round(Math.max(OUTDOOR_CO2_PPM - 20, this.co2 + this.rng.normal(0, 5))),
        setpoint: this.setpoint,
        occupancy: people,
        ventilation: { airChangesPerHour: round(airChanges, 2) },
      },
    };
  }
}

export const climateProfile: Profile = {
  name: 'climate',
  features: ['climate'],
  create: (rng) => new ClimateModel(rng),
  understands: (desired) => desiredNumber(desired, 'climate', 'setpoint') !== undefined,
};
