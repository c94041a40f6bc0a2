import type { Rng } from '../rng.js';
import { DriftingNoise } from './model.js';

/**
 * The surroundings buildings respond to: an office occupancy calendar and the outdoor
 * temperature. Hours are UTC so that a seed gives the same signals on every machine.
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export function hourOfDay(now: number): number {
  return (((now % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
}

export function isWeekend(now: number): boolean {
  const day = new Date(now).getUTCDay();
  return day === 0 || day === 6;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Share of an office building's occupants present, 0..1: people arrive around 08:00, leave
 * around 18:00 with a lunch dip; weekends see about an eighth of a weekday; nights are nearly empty.
 */
export function occupancy(now: number): number {
  const h = hourOfDay(now);
  const day = sigmoid((h - 8) / 0.4) * sigmoid((18 - h) / 0.5);
  const lunch = 1 - 0.15 * Math.exp(-((h - 12.5) ** 2) / 0.5);
  const level = isWeekend(now) ? 0.12 : 1;
  return 0.02 + 0.98 * level * day * lunch;
}

/** Mean outdoor temperature of the season: about 1 °C in late January, 20 °C in late July. */
export function seasonalMean(now: number): number {
  const year = new Date(now).getUTCFullYear();
  const dayOfYear = (now - Date.UTC(year, 0, 1)) / DAY_MS;
  return 10.5 - 9.5 * Math.cos((2 * Math.PI * (dayOfYear - 20)) / 365.25);
}

/** The daily swing: coldest around 03:00, warmest around 15:00. */
export function dailySwing(now: number): number {
  return 4 * Math.sin((2 * Math.PI * (hourOfDay(now) - 9)) / 24);
}

/**
 * Outdoor temperature at one site: season and daily sine, a site offset, weather anomalies
 * that drift over hours, and sensor noise.
 */
export class OutdoorTemperature {
  private readonly siteOffset: number;
  private readonly weather: DriftingNoise;

  constructor(private readonly rng: Rng) {
    this.siteOffset = rng.normal(0, 1.5);
    this.weather = new DriftingNoise(rng, 2, 6 * 3600);
  }

  step(dtSeconds: number, now: number): number {
    const anomaly = this.weather.step(dtSeconds);
    return seasonalMean(now) + dailySwing(now) + this.siteOffset + anomaly + this.rng.normal(0, 0.1);
  }
}
