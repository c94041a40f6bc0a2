import { describe, expect, it } from '@jest/globals';
import { parentOf, targetOf, TargetProblem } from './target.js';

describe('targetOf', () => {
  it('forecasts energy/power by default, 24 h at 15 min', () => {
    const t = targetOf({ features: { energy: { properties: { power: 1 } } } });
    expect(t).toMatchObject({ featureId: 'energy', path: 'power', horizonMs: 86_400_000, stepMs: 900_000 });
  });

  it('takes attributes/forecast, and leaves things without a target alone', () => {
    expect(targetOf({ features: { lamp: { properties: { on: true } } } })).toBeUndefined();
    const t = targetOf({
      attributes: { forecast: { target: 'meter/phases/l1', horizon: 'PT6H', step: 'PT1H' } },
    });
    expect(t).toMatchObject({
      featureId: 'meter',
      path: 'phases/l1',
      target: 'meter/phases/l1',
      stepMs: 3_600_000,
    });
    expect(
      targetOf({
        attributes: { forecast: { enabled: false } },
        features: { energy: { properties: { power: 1 } } },
      }),
    ).toBeUndefined();
  });

  it('refuses what it cannot use', () => {
    for (const forecast of [
      'yes',
      { target: 'power' },
      { step: 'PT7M' },
      { horizon: 'PT8D' },
      { step: 'PT1H', horizon: 'PT90M' },
    ])
      expect(() => targetOf({ attributes: { forecast } })).toThrow(TargetProblem);
  });
});

describe('parentOf', () => {
  it('reads attributes/partOf', () => {
    expect(parentOf({ attributes: { partOf: 'org.example:home' } })).toBe('org.example:home');
    expect(parentOf({ attributes: { partOf: 3 } })).toBeUndefined();
  });
});
