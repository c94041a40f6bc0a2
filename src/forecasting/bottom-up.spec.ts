import { describe, expect, it } from '@jest/globals';
import { mulberry32 } from './model.js';
import { forecast, train, type TrainRequest } from './pipeline.js';

const H = 3_600_000;
const START = Date.parse('2024-01-01T00:00:00Z'); // a Monday

/**
 * 28 days of hourly readings of a home made of two metered parts with different drivers (a heat
 * pump following a cold front, a load that is off most hours and on at random in the evening)
 * and, when `unmetered`, a constant load no part reports.
 */
function home(seed: number, unmetered = 0): TrainRequest {
  const random = mulberry32(seed);
  const heat: number[] = [];
  const spiky: number[] = [];
  const temperature: number[] = [];
  for (let i = 0; i < 28 * 24; i++) {
    const hour = i % 24;
    const t = 6 + 5 * Math.sin((2 * Math.PI * (hour - 9)) / 24) + 6 * Math.sin(i / 90);
    temperature.push(t);
    heat.push(Math.round(120 * Math.max(0, 18 - t) * (1 + 0.05 * (random() - 0.5))));
    spiky.push(hour >= 18 && hour < 22 && random() < 0.3 ? 3000 : Math.round(40 + 10 * random()));
  }
  return {
    startMs: START,
    stepMs: H,
    y: heat.map((v, i) => v + spiky[i] + unmetered),
    temperature,
    children: [heat, spiky],
    horizonMs: 24 * H,
    topology: true,
  };
}

describe('bottom-up forecasting over a home’s parts', () => {
  it('models each part and sums them: lower holdout MAPE than the home meter alone', () => {
    const req = home(3);
    const topo = train(req);
    const alone = train({ ...req, topology: false });
    expect(topo.artefact.algorithm).toBe('bottom-up-ridge');
    expect(alone.artefact.algorithm).toBe('ridge-linear');
    if (topo.artefact.algorithm !== 'bottom-up-ridge') return;
    expect(topo.artefact.parts).toHaveLength(2);
    // The parts sum to the meter exactly: nothing left over to model.
    expect(topo.artefact.residual).toBeNull();
    expect(topo.holdout.learned.mape!).toBeLessThan(alone.holdout.learned.mape!);
  });

  it('models what the parts do not meter as a residual of its own', () => {
    const r = train(home(3, 250));
    if (r.artefact.algorithm !== 'bottom-up-ridge') throw new Error(r.artefact.algorithm);
    expect(r.artefact.residual).not.toBeNull();
    const f = forecast(r.artefact, home(3, 250));
    expect(f.fallback).toBe(false);
    // Every hour draws the unmetered 250 W at least.
    for (const p of f.points) expect(p.value).toBeGreaterThan(250);
  });

  it('is reproducible and falls back, flagged, when a part’s history is missing', () => {
    const a = train(home(5));
    expect(JSON.stringify(train(home(5)).artefact)).toBe(JSON.stringify(a.artefact));
    const req = home(5);
    const broken = { ...req, children: [req.children[0], req.children[1].map(() => NaN)] };
    const f = forecast(a.artefact, broken);
    expect(f.fallback).toBe(true);
    expect(f.points).toHaveLength(24);
    // A part gone (no history at all): said so, not a crash.
    const fewer = forecast(a.artefact, { ...req, children: [req.children[0]] });
    expect(fewer.fallback).toBe(true);
    expect(fewer.reason).toBe('the model sums 2 parts, 1 have a history now');
  });
});
