import { describe, expect, it } from '@jest/globals';
import { changedPaths, ForecastSchedule } from './schedule.js';

const STEP = 900_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function withTarget(): ForecastSchedule {
  const s = new ForecastSchedule();
  s.noteTarget('h');
  expect(s.takeExamine()).toEqual(['h']);
  s.examined('h', STEP, T0);
  return s;
}

describe('the forecast schedule', () => {
  it('has a new target due at once, then nothing until the time it was given', () => {
    const s = withTarget();
    expect(s.due(T0)).toEqual(['h']);
    s.dueAt('h', T0 + STEP);
    expect(s.due(T0 + STEP - 1)).toEqual([]);
    expect(s.takeExamine()).toEqual([]);
    expect(s.takeDriftChecks(T0 + STEP - 1)).toEqual([]);
    expect(s.due(T0 + STEP)).toEqual(['h']);
  });

  it('lists due targets soonest first', () => {
    const s = withTarget();
    s.noteTarget('g');
    s.takeExamine();
    s.examined('g', STEP, T0);
    s.dueAt('h', T0 + 10);
    s.dueAt('g', T0 + 5);
    expect(s.due(T0 + 20)).toEqual(['g', 'h']);
  });

  it('checks drift once per completed step, however many readings arrive', () => {
    const s = withTarget();
    s.noteChange('h', '/features/energy/properties/power');
    expect(s.takeDriftChecks(T0 + 10)).toEqual(['h']);
    s.noteChange('h', '/features/energy/properties/power');
    s.noteChange('h', '/features/energy/properties/power');
    expect(s.takeDriftChecks(T0 + STEP - 1)).toEqual([]);
    s.noteChange('h', '/features/energy/properties/power');
    expect(s.takeDriftChecks(T0 + STEP)).toEqual(['h']);
    // Readings are not re-read: none noted since.
    expect(s.takeDriftChecks(T0 + 2 * STEP)).toEqual([]);
  });

  it('re-reads a thing whose definition changed, not one whose readings did', () => {
    const s = withTarget();
    s.noteChange('h', '/features/energy/properties/power');
    expect(s.takeExamine()).toEqual([]);
    s.noteChange('h', '/attributes/forecast');
    expect(s.takeExamine()).toEqual(['h']);
    // A new step makes the target due at once.
    s.examined('h', 2 * STEP, T0 + 5);
    s.dueAt('h', T0 + 100);
    s.examined('h', STEP, T0 + 50);
    expect(s.due(T0 + 50)).toEqual(['h']);
  });

  it('remembers things that are not targets until a change could make them one', () => {
    const s = new ForecastSchedule();
    s.noteChange('x', '/features/temperature/properties/value');
    expect(s.takeExamine()).toEqual(['x']);
    s.examined('x', null, T0);
    s.noteChange('x', '/features/temperature/properties/value');
    expect(s.takeExamine()).toEqual([]);
    expect(s.takeDriftChecks(T0 + STEP)).toEqual([]);
    s.noteChange('x', '/features/energy/properties/power');
    expect(s.takeExamine()).toEqual(['x']);
    s.examined('x', STEP, T0);
    expect(s.size).toBe(1);
    // Gone: forgotten.
    s.examined('x', undefined, T0);
    expect(s.size).toBe(0);
    expect(s.due(T0 + STEP)).toEqual([]);
  });

  it('takes a merge of readings into the thing for its features, not a new definition', () => {
    const readings = { features: { energy: { properties: { power: 5 } }, weather: {} } };
    expect(changedPaths('/', 'merged', readings)).toEqual(['/features/energy', '/features/weather']);
    expect(changedPaths('/', 'merged', { attributes: { partOf: 'h' } })).toEqual(['/attributes']);
    expect(changedPaths('/', 'modified', readings)).toEqual(['/']);
    expect(changedPaths('/features', 'merged', { energy: {} })).toEqual(['/features/energy']);
    const s = withTarget();
    for (const p of changedPaths('/', 'merged', readings)) s.noteChange('h', p);
    expect(s.takeExamine()).toEqual([]);
    expect(s.takeDriftChecks(T0 + STEP)).toEqual(['h']);
  });
});
