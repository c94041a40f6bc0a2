import { describe, expect, it } from '@jest/globals';
import { CreationBudget } from './creation-budget.js';

describe('CreationBudget', () => {
  it('lets devices create up to the limit of distinct things a minute', () => {
    let now = 1_000_000;
    const budget = new CreationBudget(2, () => now);
    expect(budget.take('a:1')).toBe(true);
    expect(budget.take('a:2')).toBe(true);
    expect(budget.take('a:3')).toBe(false);
    now += 59_999;
    expect(budget.take('a:3')).toBe(false);
    now += 1;
    expect(budget.take('a:3')).toBe(true);
  });

  it('counts a thing once however many overlapping batches find it missing', () => {
    const budget = new CreationBudget(3, () => 0);
    // Three devices, each seen missing by four batches before its creation committed.
    for (let batch = 0; batch < 4; batch++) {
      for (const id of ['a:1', 'a:2', 'a:3']) expect(budget.take(id)).toBe(true);
    }
    expect(budget.take('a:4')).toBe(false);
  });

  it('refuses everything with a limit of 0', () => {
    const budget = new CreationBudget(0, () => 0);
    expect(budget.take('a:1')).toBe(false);
  });
});
