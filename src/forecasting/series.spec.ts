import { describe, expect, it } from '@jest/globals';
import { toGrid } from './series.js';

const H = 3_600_000;

describe('toGrid', () => {
  it('places buckets on the grid and bridges short gaps linearly', () => {
    const g = toGrid(
      [
        { ts: 0, value: 10 },
        { ts: 3 * H, value: 40 },
      ],
      0,
      4 * H,
      H,
    );
    expect(Array.from(g.values)).toEqual([10, 20, 30, 40]);
    expect(g.filled).toBe(2);
  });

  it('fills long gaps from the same time a day earlier, and the rest with the mean', () => {
    const buckets = Array.from({ length: 24 }, (_, h) => ({ ts: h * H, value: h }));
    const g = toGrid(buckets, 0, 36 * H, H);
    // Slots 24..35 (12 h) are empty: a day earlier holds 0..11.
    expect(Array.from(g.values.slice(24))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const short = toGrid([{ ts: 0, value: 4 }], 0, 8 * H, H);
    expect(Array.from(short.values)).toEqual([4, 4, 4, 4, 4, 4, 4, 4]);
  });

  it('leaves a series without readings empty', () => {
    expect(Array.from(toGrid([], 0, 2 * H, H).values)).toEqual([NaN, NaN]);
  });
});
