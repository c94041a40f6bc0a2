import { describe, expect, it } from '@jest/globals';
import {
  ClimateModel,
  climateProfile,
  OUTDOOR_CO2_PPM,
  steadyStateCo2,
} from '../../../simulators/profiles/climate.js';
import { createRng } from '../../../simulators/rng.js';
import { at, HOUR, mean, num, run, type Sample } from './helpers.js';

const START = at('2025-03-12T06:00:00Z');
const temperature = (s: Sample): number => num(s, 'climate', 'temperature');
const co2 = (s: Sample): number => num(s, 'climate', 'co2');

function room(seed: string, occupancy: number): ClimateModel {
  return new ClimateModel(createRng(seed), { outdoorTemperature: () => 20, occupancy: () => occupancy });
}

describe('climate profile', () => {
  it('moves the temperature toward a new setpoint gradually', () => {
    const model = room('room', 0);
    run(model, START, START + 2 * HOUR, 60);
    const before = temperature(run(model, START + 2 * HOUR, START + 2 * HOUR + 60_000, 60)[0]);
    const desired = { climate: { setpoint: 25 } };
    const t0 = START + 2 * HOUR + 60_000;
    const firstMinute = run(model, t0, t0 + 60_000, 10, desired);
    const later = run(model, t0 + 60_000, t0 + 3 * HOUR, 60, desired);

    expect(before).toBeGreaterThan(20);
    expect(before).toBeLessThan(22);
    // Within a minute it has started to move but is far from there.
    expect(temperature(firstMinute.at(-1) as Sample) - before).toBeGreaterThan(0.05);
    expect(temperature(firstMinute.at(-1) as Sample)).toBeLessThan(before + 1);
    // Half an hour on it is most of the way; after three hours it has arrived.
    const halfHour = temperature(later[29]);
    expect(halfHour).toBeGreaterThan(before + 2);
    expect(halfHour).toBeLessThan(24.8);
    expect(temperature(later.at(-1) as Sample)).toBeCloseTo(25, 0);
    expect(later.every((s) => s.features.climate.setpoint === 25)).toBe(true);
  });

  it('raises CO₂ with occupancy and lets ventilation bring it back toward outdoor air', () => {
    const full = room('co2', 1);
    const busy = run(full, START, START + 3 * HOUR, 60);
    const busyLevel = co2(busy.at(-1) as Sample);
    expect(busyLevel).toBeGreaterThan(700);
    expect(co2(busy[5])).toBeLessThan(busyLevel);

    const empty = room('co2', 0);
    expect(co2(run(empty, START, START + 3 * HOUR, 60).at(-1) as Sample)).toBeLessThan(OUTDOOR_CO2_PPM + 30);

    // Everyone leaves: ventilation brings the level down toward outdoor air, fastest at first.
    let share = 1;
    const model = new ClimateModel(createRng('co2'), {
      outdoorTemperature: () => 20,
      occupancy: () => share,
    });
    run(model, START, START + 3 * HOUR, 60);
    share = 0;
    const decay = run(model, START + 3 * HOUR, START + 9 * HOUR, 60).map(co2);
    const excess = (i: number) => decay[i] - OUTDOOR_CO2_PPM;
    expect(excess(59)).toBeLessThan(0.8 * excess(0));
    expect(excess(179)).toBeLessThan(0.5 * excess(59));
    expect(decay.at(-1)).toBeLessThan(OUTDOOR_CO2_PPM + 80);
  });

  it('matches the mass balance at steady state', () => {
    expect(steadyStateCo2(0, 200, 2)).toBe(OUTDOOR_CO2_PPM);
    // 10 people in 150 m³ with 2 air changes per hour settle near 1044 ppm.
    expect(steadyStateCo2(10, 150, 2)).toBeCloseTo(1044, -1);
  });

  it('keeps humidity plausible and follows the office calendar without overrides', () => {
    const model = new ClimateModel(createRng('calendar'));
    const day = run(model, at('2025-03-12T00:00:00Z'), at('2025-03-13T00:00:00Z'), 120);
    const humidity = day.map((s) => num(s, 'climate', 'humidity'));
    expect(Math.min(...humidity)).toBeGreaterThanOrEqual(15);
    expect(Math.max(...humidity)).toBeLessThanOrEqual(85);
    const hour = (s: Sample) => new Date(s.now).getUTCHours();
    const office = day.filter((s) => hour(s) >= 10 && hour(s) < 16);
    const night = day.filter((s) => hour(s) < 5);
    expect(mean(office.map(co2))).toBeGreaterThan(mean(night.map(co2)) + 150);
    expect(Math.max(...night.map((s) => num(s, 'climate', 'occupancy')))).toBeLessThanOrEqual(2);
  });

  it('understands only a numeric climate.setpoint', () => {
    expect(climateProfile.understands({ climate: { setpoint: 22 } })).toBe(true);
    expect(climateProfile.understands({ climate: { setpoint: 'warm' } })).toBe(false);
    expect(climateProfile.understands({ hvac: { setpoint: 22 } })).toBe(false);
  });
});
