import { describe, expect, it } from '@jest/globals';
import { errorMetrics, quantile } from './metrics.js';

describe('errorMetrics', () => {
  it('gives exact MAPE, MAE and RMSE for a known series', () => {
    // errors 10, -20, 0, 30 on actuals 100, 200, 50, 300
    const m = errorMetrics([100, 200, 50, 300], [90, 220, 50, 270]);
    expect(m.mae).toBe(15);
    expect(m.rmse).toBeCloseTo(Math.sqrt((100 + 400 + 0 + 900) / 4), 12);
    expect(m.mape).toBeCloseTo(((0.1 + 0.1 + 0 + 0.1) / 4) * 100, 12);
    expect(m.n).toBe(4);
  });

  it('leaves zero actuals out of MAPE only, and skips missing points', () => {
    const m = errorMetrics([0, 10, NaN], [5, 12, 3]);
    expect(m.n).toBe(2);
    expect(m.mae).toBe(3.5);
    expect(m.mape).toBeCloseTo(20, 12);
    expect(errorMetrics([0], [1]).mape).toBeNull();
  });
});

describe('quantile', () => {
  it('interpolates between order statistics', () => {
    expect(quantile([4, 1, 3, 2, 5], 0.5)).toBe(3);
    expect(quantile([1, 2], 0.25)).toBe(1.25);
    expect(quantile([], 0.5)).toBe(0);
  });
});
