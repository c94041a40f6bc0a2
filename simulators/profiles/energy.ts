import type { Desired, Features } from '../contract.js';
import type { Rng } from '../rng.js';
import { OutdoorTemperature, occupancy } from './environment.js';
import {
  clamp,
  desiredNumber,
  desiredSwitch,
  DriftingNoise,
  round,
  type Profile,
  type SignalModel,
} from './model.js';

/**
 * A building energy meter, after the load shape of Fujii et al.'s short-term energy
 * consumption digital twin: an always-on base load, a load that follows occupancy (daily
 * profile, low weekends), and HVAC whose load grows with the distance of the outdoor
 * temperature from a comfort band around the setpoint (heating and cooling degrees).
 *
 * Reports `energy` {power W, energy kWh, breakdown {base, occupancy, hvac} W},
 * `weather` {outdoorTemperature °C} and `hvac` {on, setpoint °C};
 * applies desired `hvac.on` (boolean) and `hvac.setpoint` (°C).
 */

export const DEFAULT_SETPOINT = 19.5;
/** Half-width of the comfort band: no heating or cooling between 18 and 21 °C by default. */
export const COMFORT_HALF_BAND = 1.5;
export const SETPOINT_RANGE = { min: 10, max: 30 } as const;

/** Electrical watts per degree outside the band, for a building of scale 1. */
const HEATING_W_PER_K = 1400;
const COOLING_W_PER_K = 1800;
/** Fans and pumps run whenever the HVAC is on. */
const HVAC_FANS_W = 600;

/**
 * HVAC electrical load (W) of a building of scale 1. Outside occupied hours the system runs
 * set back, at 35 % of its occupied load.
 */
export function hvacLoad(outdoor: number, setpoint: number, occupancyShare: number): number {
  const heatingDegrees = Math.max(0, setpoint - COMFORT_HALF_BAND - outdoor);
  const coolingDegrees = Math.max(0, outdoor - setpoint - COMFORT_HALF_BAND);
  const activity = 0.35 + 0.65 * occupancyShare;
  return activity * (HVAC_FANS_W + HEATING_W_PER_K * heatingDegrees + COOLING_W_PER_K * coolingDegrees);
}

export interface EnergyModelOptions {
  /** Replaces the simulated weather, so tests can hold the outdoor temperature fixed. */
  outdoorTemperature?: (now: number) => number;
}

export class EnergyModel implements SignalModel {
  /** Building size: all loads scale with it. */
  readonly scale: number;
  private readonly baseLoad: number;
  private readonly peopleLoad: number;
  private readonly outdoor: OutdoorTemperature;
  private readonly loadNoise: DriftingNoise;
  private energyKwh: number;
  private lastPower: number | null = null;
  private on = true;
  private setpoint = DEFAULT_SETPOINT;

  constructor(
    private readonly rng: Rng,
    private readonly options: EnergyModelOptions = {},
  ) {
    this.scale = rng.uniform(0.6, 1.6);
    this.baseLoad = 8000 * this.scale * rng.uniform(0.8, 1.2);
    this.peopleLoad = 22000 * this.scale * rng.uniform(0.8, 1.2);
    this.outdoor = new OutdoorTemperature(rng.fork('weather'));
    // Meters are installed at different times, so counters start at different readings.
    this.energyKwh = rng.uniform(1_000, 50_000);
    this.loadNoise = new DriftingNoise(rng, 0.03, 15 * 60);
  }

  step(dtSeconds: number, now: number, desired: Desired): Features {
    this.on = desiredSwitch(desired, 'hvac', 'on') ?? this.on;
    const setpoint = desiredNumber(desired, 'hvac', 'setpoint');
    if (setpoint !== undefined) this.setpoint = clamp(setpoint, SETPOINT_RANGE.min, SETPOINT_RANGE.max);

    // The simulated weather advances even when replaced, so a seed's other signals do not shift.
    const simulated = this.outdoor.step(dtSeconds, now);
    const outdoor = this.options.outdoorTemperature?.(now) ?? simulated;
    const occ = occupancy(now);
    const noise = 1 + this.loadNoise.step(dtSeconds) + this.rng.normal(0, 0.01);
    const base = this.baseLoad * noise;
    const people = this.peopleLoad * occ * noise;
    const hvac = this.on ? this.scale * hvacLoad(outdoor, this.setpoint, occ) * noise : 0;
    const power = Math.max(0, base + people + hvac);

    // Trapezoidal integration of power; power is never negative, so the counter never falls.
    const dt = Math.max(0, dtSeconds);
    this.energyKwh += (((this.lastPower ?? power) + power) / 2) * (dt / 3_600_000);
    this.lastPower = power;

    return {
      energy: {
        power: round(power, 1),
        energy: round(this.energyKwh, 3),
        breakdown: { base: round(base, 1), occupancy: round(people, 1), hvac: round(hvac, 1) },
      },
      weather: { outdoorTemperature: round(outdoor, 2) },
      hvac: { on: this.on, setpoint: this.setpoint },
    };
  }
}

export const energyProfile: Profile = {
  name: 'energy',
  features: ['energy', 'weather', 'hvac'],
  create: (rng) => new EnergyModel(rng),
  understands: (desired) =>
    desiredSwitch(desired, 'hvac', 'on') !== undefined ||
    desiredNumber(desired, 'hvac', 'setpoint') !== undefined,
};
