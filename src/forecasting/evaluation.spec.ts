import { describe, expect, it } from '@jest/globals';
import { matchForecasts, stepMetrics } from './evaluation.js';

const T = (h: number) => Date.parse('2024-01-01T00:00:00Z') + h * 3_600_000;
const iso = (h: number) => new Date(T(h)).toISOString();
const pt = (h: number, value: number) => ({ ts: iso(h), value, lower: value, upper: value });

describe('matchForecasts', () => {
  it('compares each actual with the newest forecast issued before its step ended', () => {
    const runs = [
      { modelId: 'm1', generatedAt: iso(0), fallback: false, points: [pt(1, 10), pt(2, 20), pt(3, 30)] },
      // Issued during step 2: its forecast of step 2 counts, not for step 1.
      {
        modelId: 'm2',
        generatedAt: iso(2.5),
        fallback: true,
        points: [pt(1, 99), pt(2, 22), pt(3, 33), pt(4, 40)],
      },
    ];
    const steps = matchForecasts(
      runs,
      [
        { ts: T(1), value: 12 },
        { ts: T(2), value: 20 },
        { ts: T(3), value: 30 },
        { ts: T(4), value: 44 },
        { ts: T(5), value: 1 },
      ],
      3_600_000,
    );
    expect(steps.map((s) => [s.forecast, s.modelId, s.error])).toEqual([
      [10, 'm1', 2],
      [22, 'm2', -2],
      [33, 'm2', -3],
      [40, 'm2', 4],
    ]);
    const m = stepMetrics(steps);
    expect(m.mae).toBe(2.75);
    expect(m.mape).toBeCloseTo(((2 / 12 + 2 / 20 + 3 / 30 + 4 / 44) / 4) * 100, 12);
  });
});
