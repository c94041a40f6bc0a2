import { describe, expect, it } from '@jest/globals';
import { occupancy } from '../../../simulators/profiles/environment.js';
import {
  COMFORT_HALF_BAND,
  DEFAULT_SETPOINT,
  EnergyModel,
  energyProfile,
  hvacLoad,
} from '../../../simulators/profiles/energy.js';
import { createRng } from '../../../simulators/rng.js';
import { at, HOUR, mean, num, run, type Sample } from './helpers.js';

const WEDNESDAY = at('2025-03-12T00:00:00Z');
const SATURDAY = at('2025-03-15T00:00:00Z');

const power = (s: Sample): number => num(s, 'energy', 'power');
const hourOf = (s: Sample): number => new Date(s.now).getUTCHours();

function fixedWeather(outdoor: number, seed = 'fixed'): EnergyModel {
  return new EnergyModel(createRng(seed), { outdoorTemperature: () => outdoor });
}

describe('energy profile: readings', () => {
  it('reports an outdoor temperature just below zero as 0, the value JSON carries, not -0', () => {
    const [sample] = run(fixedWeather(-0.001), WEDNESDAY, WEDNESDAY + HOUR, 60);
    const temp = num(sample, 'weather', 'outdoorTemperature');
    expect(Object.is(temp, 0)).toBe(true);
    expect(JSON.parse(JSON.stringify(sample.features))).toEqual(sample.features);
  });
});

describe('energy profile: load shape', () => {
  it('follows the daily occupancy pattern: office hours draw far more than nights', () => {
    const day = run(fixedWeather(12), WEDNESDAY, WEDNESDAY + 24 * HOUR, 60);
    const office = mean(day.filter((s) => hourOf(s) >= 10 && hourOf(s) < 16).map(power));
    const night = mean(day.filter((s) => hourOf(s) < 5).map(power));
    expect(office).toBeGreaterThan(2 * night);
    // The peak falls in office hours.
    const peak = day.reduce((a, b) => (power(b) > power(a) ? b : a));
    expect(hourOf(peak)).toBeGreaterThanOrEqual(8);
    expect(hourOf(peak)).toBeLessThan(18);
  });

  it('follows the weekly pattern: a Saturday draws much less than a Wednesday', () => {
    const model = fixedWeather(12);
    const week = run(model, WEDNESDAY, WEDNESDAY + 4 * 24 * HOUR, 300);
    const daytime = (from: number) =>
      mean(week.filter((s) => s.now >= from + 9 * HOUR && s.now < from + 17 * HOUR).map(power));
    expect(daytime(SATURDAY)).toBeLessThan(0.6 * daytime(WEDNESDAY));
  });

  it('draws more the farther the outdoor temperature is from the comfort band', () => {
    const daytimeMean = (outdoor: number): number =>
      mean(run(fixedWeather(outdoor), WEDNESDAY + 10 * HOUR, WEDNESDAY + 12 * HOUR, 60).map(power));
    const [freezing, cold, comfortable, warm, hot] = [-5, 8, DEFAULT_SETPOINT, 28, 36].map(daytimeMean);
    expect(freezing).toBeGreaterThan(cold);
    expect(cold).toBeGreaterThan(comfortable * 1.1);
    expect(hot).toBeGreaterThan(warm);
    expect(warm).toBeGreaterThan(comfortable * 1.1);
  });

  it('has no heating or cooling load inside the band around the setpoint', () => {
    const fans = hvacLoad(DEFAULT_SETPOINT, DEFAULT_SETPOINT, 1);
    expect(hvacLoad(18, DEFAULT_SETPOINT, 1)).toBeCloseTo(fans);
    expect(hvacLoad(21, DEFAULT_SETPOINT, 1)).toBeCloseTo(fans);
    expect(hvacLoad(DEFAULT_SETPOINT - COMFORT_HALF_BAND - 10, DEFAULT_SETPOINT, 1)).toBeGreaterThan(
      5 * fans,
    );
    expect(hvacLoad(DEFAULT_SETPOINT + COMFORT_HALF_BAND + 10, DEFAULT_SETPOINT, 1)).toBeGreaterThan(
      5 * fans,
    );
    // Outside office hours the system runs set back.
    expect(hvacLoad(0, DEFAULT_SETPOINT, occupancy(WEDNESDAY + 3 * HOUR))).toBeLessThan(
      0.5 * hvacLoad(0, DEFAULT_SETPOINT, 1),
    );
  });

  it('reports an outdoor temperature with a daily sine: afternoons warmer than early mornings', () => {
    const model = new EnergyModel(createRng('weather'));
    const days = run(model, WEDNESDAY, WEDNESDAY + 7 * 24 * HOUR, 600);
    const temp = (s: Sample) => num(s, 'weather', 'outdoorTemperature');
    const afternoon = mean(days.filter((s) => hourOf(s) >= 13 && hourOf(s) < 17).map(temp));
    const early = mean(days.filter((s) => hourOf(s) >= 1 && hourOf(s) < 5).map(temp));
    expect(afternoon - early).toBeGreaterThan(4);
    // January is colder than July, and the meter draws more for it.
    const winter = run(
      new EnergyModel(createRng('w')),
      at('2025-01-22T00:00Z'),
      at('2025-01-23T00:00Z'),
      600,
    );
    const summer = run(
      new EnergyModel(createRng('w')),
      at('2025-05-14T00:00Z'),
      at('2025-05-15T00:00Z'),
      600,
    );
    expect(mean(winter.map(temp))).toBeLessThan(mean(summer.map(temp)) - 5);
    expect(mean(winter.map(power))).toBeGreaterThan(mean(summer.map(power)));
  });
});

describe('energy profile: counter', () => {
  it('integrates power into a kWh counter that never decreases, whatever the step', () => {
    const model = new EnergyModel(createRng('counter'));
    const read = (dt: number, now: number) => {
      const { energy } = model.step(dt, now, {});
      return { power: energy.power as number, energy: energy.energy as number };
    };
    let now = WEDNESDAY;
    const first = read(0, now);
    let previous = first;
    let expectedKwh = 0;
    const rng = createRng('steps');
    let nonPositive = 0;
    let decreases = 0;
    for (let i = 0; i < 5000; i++) {
      // Steps of zero (a reading right after another), seconds, and up to an hour.
      const dt = rng.pick([0, 0.5, 1, 10, 60, 3600]);
      now += dt * 1000;
      const reading = read(dt, now);
      if (reading.power <= 0) nonPositive++;
      if (reading.energy < previous.energy) decreases++;
      expectedKwh += ((previous.power + reading.power) / 2) * (dt / 3_600_000);
      previous = reading;
    }
    expect({ nonPositive, decreases }).toEqual({ nonPositive: 0, decreases: 0 });
    expect(Math.abs(previous.energy - first.energy - expectedKwh)).toBeLessThan(expectedKwh * 1e-4);
  });
});

describe('energy profile: desired state', () => {
  const noon = WEDNESDAY + 12 * HOUR;

  it('drops the HVAC load when hvac.on is false and reports it', () => {
    const on = run(fixedWeather(0, 'same'), noon, noon + HOUR, 60);
    const off = run(fixedWeather(0, 'same'), noon, noon + HOUR, 60, { hvac: { on: false } });
    expect(off.every((s) => s.features.hvac.on === false)).toBe(true);
    expect(off.every((s) => (s.features.energy.breakdown as Record<string, number>).hvac === 0)).toBe(true);
    expect(mean(off.map(power))).toBeLessThan(0.75 * mean(on.map(power)));
  });

  it('heats more in the cold with a higher setpoint, and reports the setpoint', () => {
    const warm = run(fixedWeather(0, 'same'), noon, noon + HOUR, 60, { hvac: { setpoint: 23 } });
    const cool = run(fixedWeather(0, 'same'), noon, noon + HOUR, 60, { hvac: { setpoint: 17 } });
    expect(warm.at(-1)?.features.hvac.setpoint).toBe(23);
    expect(mean(warm.map(power))).toBeGreaterThan(mean(cool.map(power)) * 1.1);
  });

  it('clamps absurd setpoints and ignores values of the wrong type', () => {
    const model = fixedWeather(10);
    expect(model.step(1, noon, { hvac: { setpoint: 99 } }).hvac.setpoint).toBe(30);
    expect(model.step(1, noon + 1000, { hvac: { setpoint: '22', on: 'maybe' } }).hvac).toEqual({
      on: true,
      setpoint: 30,
    });
    expect(energyProfile.understands({ hvac: { setpoint: 21 } })).toBe(true);
    expect(energyProfile.understands({ hvac: { on: 'off' } })).toBe(true);
    expect(energyProfile.understands({ hvac: { setpoint: '21' }, lamp: { on: true } })).toBe(false);
  });
});

describe('energy profile: determinism', () => {
  it('gives the same readings for the same seed and different ones for another', () => {
    const a = run(new EnergyModel(createRng(7)), WEDNESDAY, WEDNESDAY + HOUR, 10);
    const b = run(new EnergyModel(createRng(7)), WEDNESDAY, WEDNESDAY + HOUR, 10);
    const c = run(new EnergyModel(createRng(8)), WEDNESDAY, WEDNESDAY + HOUR, 10);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});
