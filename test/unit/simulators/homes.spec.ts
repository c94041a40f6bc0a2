import { describe, expect, it } from '@jest/globals';
import { CliError, parseCliArgs } from '../../../simulators/args.js';
import { homeThings, homesThingIds, parseBackfill } from '../../../simulators/homes-fleet.js';
import { generateHomes, type GeneratedHome } from '../../../simulators/profiles/homes.js';
import { at, mean } from './helpers.js';

/** A Monday. */
const START = at('2026-01-05T00:00:00Z');
const STEPS_PER_DAY = 96;

const homes = generateHomes({ seed: 7, homes: 12, days: 14, stepMinutes: 15, start: START });

const hourOf = (ts: number): number => new Date(ts).getUTCHours();
const isWeekend = (ts: number): boolean => [0, 6].includes(new Date(ts).getUTCDay());

/** Mean home power over all homes at the samples `keep` selects. */
function fleetMean(keep: (ts: number) => boolean): number {
  const values: number[] = [];
  for (const home of homes) home.timestamps.forEach((ts, i) => keep(ts) && values.push(home.home[i]));
  return mean(values);
}

const appliance = (home: GeneratedHome, kind: string) => home.appliances.find((a) => a.kind === kind);

describe('simulated homes', () => {
  it('has one sample per step for every series, at the step timestamps', () => {
    expect(homes).toHaveLength(12);
    for (const home of homes) {
      expect(home.timestamps).toHaveLength(14 * STEPS_PER_DAY);
      expect(home.home).toHaveLength(14 * STEPS_PER_DAY);
      expect(home.outdoorTemperature).toHaveLength(14 * STEPS_PER_DAY);
      expect(home.timestamps[0]).toBe(START);
      expect(home.timestamps[1] - home.timestamps[0]).toBe(15 * 60_000);
      for (const a of home.appliances) expect(a.series).toHaveLength(14 * STEPS_PER_DAY);
    }
  });

  it('names homes and appliances so they can be thing names', () => {
    expect(homes.map((h) => h.homeId)).toEqual(Array.from({ length: 12 }, (_, i) => `home-${i + 1}`));
    for (const home of homes) {
      for (const a of home.appliances) {
        expect(a.id).toBe(`${home.homeId}-${a.kind}`);
        expect(a.id).toMatch(/^[a-z0-9-]+$/);
      }
      expect(home.appliances.map((a) => a.kind)).toEqual(
        expect.arrayContaining(['fridge', 'hvac', 'lighting', 'plugs', 'cooking', 'laundry']),
      );
    }
  });

  it('sums the sub-meters exactly to the home meter, in whole non-negative watts', () => {
    const wrong: string[] = [];
    for (const home of homes) {
      for (let i = 0; i < home.home.length; i++) {
        let sum = 0;
        for (const a of home.appliances) {
          if (!Number.isInteger(a.series[i]) || a.series[i] < 0) wrong.push(`${a.id}[${i}] = ${a.series[i]}`);
          sum += a.series[i];
        }
        if (home.home[i] !== sum)
          wrong.push(`${home.homeId}[${i}] = ${home.home[i]}, appliances sum to ${sum}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('is reproducible: the same seed gives the same homes, another seed other homes', () => {
    const again = generateHomes({ seed: 7, homes: 3, days: 3, stepMinutes: 15, start: START });
    const first = generateHomes({ seed: 7, homes: 3, days: 3, stepMinutes: 15, start: START });
    const other = generateHomes({ seed: 8, homes: 3, days: 3, stepMinutes: 15, start: START });
    expect(again).toEqual(first);
    expect(Array.from(other[0].home)).not.toEqual(Array.from(first[0].home));
    // Generating more homes does not change the first ones.
    const more = generateHomes({ seed: 7, homes: 5, days: 3, stepMinutes: 15, start: START });
    expect(more[1]).toEqual(first[1]);
  });

  it('has a daily pattern: evenings draw far more than the small hours', () => {
    const evening = fleetMean((ts) => hourOf(ts) >= 17 && hourOf(ts) < 21);
    const night = fleetMean((ts) => hourOf(ts) >= 1 && hourOf(ts) < 5);
    expect(evening).toBeGreaterThan(1.5 * night);
  });

  it('has a weekly pattern: weekend daytime differs from weekday daytime', () => {
    const daytime = (ts: number): boolean => hourOf(ts) >= 9 && hourOf(ts) < 16;
    const weekend = fleetMean((ts) => daytime(ts) && isWeekend(ts));
    const weekday = fleetMean((ts) => daytime(ts) && !isWeekend(ts));
    // Most households commute: the house is empty on weekdays, lived in at weekends.
    expect(weekend).toBeGreaterThan(1.2 * weekday);
  });

  it('heats more on cold days: the HVAC load falls as the outdoor temperature rises', () => {
    const days: { temperature: number; hvac: number }[] = [];
    for (const home of homes) {
      const hvac = appliance(home, 'hvac')!.series;
      for (let d = 0; d < 14; d++) {
        const range = [d * STEPS_PER_DAY, (d + 1) * STEPS_PER_DAY] as const;
        days.push({
          temperature: mean(Array.from(home.outdoorTemperature.subarray(...range))),
          hvac: mean(Array.from(hvac.subarray(...range))),
        });
      }
    }
    const sorted = [...days].sort((a, b) => a.temperature - b.temperature);
    const coldest = mean(sorted.slice(0, 30).map((d) => d.hvac));
    const warmest = mean(sorted.slice(-30).map((d) => d.hvac));
    expect(coldest).toBeGreaterThan(1.3 * warmest);
    // And winter draws more than summer.
    const july = generateHomes({
      seed: 7,
      homes: 12,
      days: 3,
      stepMinutes: 15,
      start: at('2026-07-06T00:00:00Z'),
    });
    const heating = (hs: GeneratedHome[]) =>
      mean(hs.map((h) => mean(Array.from(appliance(h, 'hvac')!.series))));
    expect(heating(homes)).toBeGreaterThan(2 * heating(july));
  });

  it('charges electric cars on some evenings, not every day, at charger power', () => {
    const cars = homes.map((h) => appliance(h, 'ev')).filter((a) => a !== undefined);
    expect(cars.length).toBeGreaterThan(0);
    expect(cars.length).toBeLessThan(homes.length);
    for (const car of cars) {
      let charging = 0;
      for (let d = 0; d < 14; d++) {
        const day = car.series.subarray(d * STEPS_PER_DAY, (d + 1) * STEPS_PER_DAY);
        if (day.some((w) => w > 0)) charging++;
      }
      expect(charging).toBeGreaterThan(0);
      expect(charging).toBeLessThan(14);
      expect(Math.max(...car.series)).toBeGreaterThan(3000);
    }
  });

  it('cycles the fridge compressor on and off', () => {
    const [home] = generateHomes({ seed: 3, homes: 1, days: 1, stepMinutes: 1, start: START });
    const fridge = appliance(home, 'fridge')!.series;
    let switches = 0;
    for (let i = 1; i < fridge.length; i++) if (fridge[i] > 50 !== fridge[i - 1] > 50) switches++;
    // Roughly hourly cycles: between 10 and 100 switches a day.
    expect(switches).toBeGreaterThan(10);
    expect(switches).toBeLessThan(100);
  });

  it('refuses options that make no sense or would exhaust memory', () => {
    expect(() => generateHomes({ seed: 1, homes: -1, days: 1, stepMinutes: 15, start: START })).toThrow(
      RangeError,
    );
    expect(() => generateHomes({ seed: 1, homes: 1, days: 0, stepMinutes: 15, start: START })).toThrow(
      RangeError,
    );
    expect(() => generateHomes({ seed: 1, homes: 1, days: 1, stepMinutes: 0, start: START })).toThrow(
      RangeError,
    );
    expect(() => generateHomes({ seed: 1, homes: 1, days: 10_000, stepMinutes: 1, start: START })).toThrow(
      RangeError,
    );
  });
});

describe('simulate --profile homes', () => {
  it('reads backfill spans in days, hours or minutes', () => {
    expect(parseBackfill('60d')).toBe(60);
    expect(parseBackfill('60')).toBe(60);
    expect(parseBackfill('36h')).toBe(1.5);
    expect(parseBackfill('90m')).toBe(90 / 1440);
    for (const bad of ['', '0d', '-1d', '1y', 'abc', '1e9d']) expect(parseBackfill(bad)).toBeUndefined();
  });

  it('builds a backfill command from the fleet flags and its own', () => {
    const command = parseCliArgs(
      [
        '--profile',
        'homes',
        '--devices',
        '3',
        '--backfill',
        '2d',
        '--step',
        '5',
        '--seed',
        's',
        '--inflight',
        '50',
      ],
      {},
    );
    expect(command).toEqual({
      kind: 'homes',
      json: false,
      options: expect.objectContaining({ homes: 3, days: 2, stepMinutes: 5, inflight: 50, seed: 's' }),
    });
  });

  it('refuses what a backfill cannot do, naming every problem', () => {
    const problems = (argv: string[]): string => {
      try {
        parseCliArgs(argv, {});
      } catch (err) {
        if (err instanceof CliError) return err.message;
        throw err;
      }
      return 'no error';
    };
    expect(problems(['--profile', 'homes'])).toContain('--profile homes needs --backfill');
    expect(problems(['--profile', 'homes', '--backfill', '2d', '--rate', '5'])).toContain(
      '--rate does not apply to --profile homes',
    );
    expect(problems(['--profile', 'homes', '--backfill', 'soon'])).toContain('--backfill must be a span');
    expect(problems(['--profile', 'homes', '--backfill', '2d', '--step', '0'])).toContain('the step must be');
    expect(problems(['--backfill', '2d'])).toContain('--backfill is for --profile homes');
  });

  it('names each home followed by its appliances, which are partOf it', () => {
    const things = homeThings('org.example.sim', homes.slice(0, 2));
    expect(things[0]).toEqual({
      thingId: 'org.example.sim:home-1',
      kind: 'home',
      attributes: { type: 'home' },
    });
    const parts = things.filter((t) => t.partOf === 'org.example.sim:home-1');
    expect(parts.map((t) => t.kind)).toEqual(homes[0].appliances.map((a) => a.kind));
    expect(parts[0].attributes).toEqual({
      type: 'appliance',
      kind: 'fridge',
      partOf: 'org.example.sim:home-1',
    });
    // The ids a run provisions are those it then sends from.
    expect(homesThingIds({ namespace: 'org.example.sim', homes: 12, seed: 7 })).toEqual(
      homeThings('org.example.sim', homes).map((t) => t.thingId),
    );
  });
});

describe('simulate --profile homes --live', () => {
  it('takes a live span after the backfill, and refuses a bad one', () => {
    const command = parseCliArgs(['--profile', 'homes', '--backfill', '60d', '--live', '12h'], {});
    expect(command).toEqual(
      expect.objectContaining({
        kind: 'homes',
        options: expect.objectContaining({ days: 60, liveDays: 0.5 }),
      }),
    );
    expect(() => parseCliArgs(['--profile', 'homes', '--backfill', '60d', '--live', 'forever'], {})).toThrow(
      '--live must be a span',
    );
  });
});
