import { describe, expect, it } from '@jest/globals';
import { drifted, promotes, rollbackTarget, rollForward, type ModelSummary } from './mlops.js';

describe('promotion', () => {
  it('promotes a candidate only when it beats the active model on the newest holdout', () => {
    expect(promotes({ mape: 10, mae: 5 }, null).promote).toBe(true);
    expect(promotes({ mape: 10, mae: 9 }, { mape: 12, mae: 5 }).promote).toBe(true);
    expect(promotes({ mape: 12, mae: 1 }, { mape: 12, mae: 5 }).promote).toBe(false);
    expect(promotes({ mape: 13, mae: 1 }, { mape: 12, mae: 5 })).toEqual({
      promote: false,
      reason: "MAPE 13.000 does not beat the active model's 12.000 on the newest holdout",
    });
  });

  it('compares MAE when MAPE is undefined', () => {
    expect(promotes({ mape: null, mae: 4 }, { mape: 12, mae: 5 }).promote).toBe(true);
    expect(promotes({ mape: 3, mae: 6 }, { mape: null, mae: 5 }).promote).toBe(false);
  });
});

describe('rollback', () => {
  const m = (id: string, version: number, status: ModelSummary['status'], activatedAt: string | null) => ({
    id,
    version,
    status,
    activatedAt,
  });

  it('returns to the model that was active before the current one', () => {
    const models = [
      m('a', 1, 'retired', '2024-01-01T00:00:00Z'),
      m('b', 2, 'retired', '2024-01-03T00:00:00Z'),
      m('c', 3, 'retired', null),
      m('d', 4, 'active', '2024-01-04T00:00:00Z'),
    ];
    expect(rollbackTarget(models)?.id).toBe('b');
  });

  it('falls back to the newest retired version, and to nothing', () => {
    expect(rollbackTarget([m('a', 1, 'retired', null), m('b', 2, 'retired', null)])?.id).toBe('b');
    expect(rollbackTarget([m('a', 1, 'active', '2024-01-01T00:00:00Z')])).toBeUndefined();
  });
});

describe('drift', () => {
  it('keeps a rolling error and triggers above holdout × factor once enough readings are in', () => {
    let s = rollForward({ mae: null, n: 0 }, [10, 10, 10], 4);
    expect(s).toEqual({ mae: 10, n: 3 });
    expect(drifted(s, 5, 1.5, 4)).toBe(false); // too few readings
    s = rollForward(s, [10], 4);
    expect(drifted(s, 5, 1.5, 4)).toBe(true);
    expect(drifted(s, 8, 1.5, 4)).toBe(false);
    // One large error moves the mean by alpha = 2 / (window + 1).
    expect(rollForward({ mae: 10, n: 4 }, [60], 4).mae).toBe(30);
  });
});
