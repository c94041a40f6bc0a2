import { createRng, type Rng } from '../rng.js';
import { DAY_MS, hourOfDay, HOUR_MS, OutdoorTemperature } from './environment.js';
import { clamp, DriftingNoise } from './model.js';

/**
 * Homes made of appliances, for the energy forecasting pipeline (issue 13, after Fujii et al.):
 * each home is a handful of sub-metered appliances whose readings sum exactly to the home meter.
 *
 * - fridge: a compressor cycling on a thermostat whose warm-up speed follows the indoor
 *   temperature and door openings, plus a daily defrost;
 * - hvac: a heat pump (or resistive heating) holding a comfort setpoint on a thermal model of
 *   the house (resistance and capacitance), set back at night and while nobody is home, so its
 *   load follows the outdoor temperature with the house's lag; homes with air conditioning cool
 *   above a cooling setpoint;
 * - lighting and plugs: follow who is home and awake (and, for lighting, darkness);
 * - cooking, dishwasher, laundry: programmes started by the household's day (breakfast,
 *   dinner, after dinner, weekend washing);
 * - ev (some homes): a battery drained by commutes and trips, plugged in on arrival when its
 *   state of charge is below the owner's threshold, charged at once or from an off-peak hour.
 *
 * A household's day is drawn each (UTC) day: waking and sleeping times, commuting on weekdays
 * or staying home, outings; weekends differ from weekdays. All randomness comes from the seed,
 * forked per home and per appliance, so the same options give the same homes bit for bit.
 *
 * Each sample is the mean power (W, whole watts) over the step that starts at its timestamp;
 * the home meter is the sum of its appliances' samples, so the two agree exactly.
 */

export interface GeneratedHome {
  homeId: string;
  appliances: { id: string; kind: string; series: Float64Array }[];
  home: Float64Array;
  outdoorTemperature: Float64Array;
  timestamps: Float64Array;
}

export interface GenerateHomesOptions {
  seed: number;
  homes: number;
  days: number;
  stepMinutes: number;
  /** Epoch ms of the first sample. */
  start: number;
}

export const APPLIANCE_KINDS = [
  'fridge',
  'hvac',
  'lighting',
  'plugs',
  'cooking',
  'dishwasher',
  'laundry',
  'ev',
] as const;
export type ApplianceKind = (typeof APPLIANCE_KINDS)[number];
const KIND_INDEX = Object.fromEntries(APPLIANCE_KINDS.map((kind, i) => [kind, i])) as Record<
  ApplianceKind,
  number
>;

/** Upper bounds, so a mistyped option cannot allocate the machine's memory away. */
export const MAX_HOMES = 10_000;
export const MAX_SAMPLES_PER_HOME = 2_000_000;

export const homeIdFor = (n: number): string => `home-${n}`;
export const applianceIdFor = (homeId: string, kind: string): string => `${homeId}-${kind}`;

export function generateHomes(opts: GenerateHomesOptions): GeneratedHome[] {
  const { seed, homes, days, stepMinutes, start } = opts;
  if (!Number.isInteger(homes) || homes < 0 || homes > MAX_HOMES) {
    throw new RangeError(`homes must be an integer in 0..${MAX_HOMES}`);
  }
  if (!(days > 0) || !(stepMinutes > 0) || !Number.isFinite(start)) {
    throw new RangeError('days and stepMinutes must be positive and start a finite epoch ms');
  }
  const samples = Math.floor((days * 24 * 60) / stepMinutes);
  if (samples > MAX_SAMPLES_PER_HOME) {
    throw new RangeError(`at most ${MAX_SAMPLES_PER_HOME} samples per home`);
  }
  const root = createRng(seed);
  const result: GeneratedHome[] = [];
  for (let n = 1; n <= homes; n++) {
    result.push(new HomeSimulation(root.fork(homeIdFor(n)), homeIdFor(n)).run(samples, stepMinutes, start));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Programmes: appliances that run a sequence of phases once started.

/** One phase of a programme: `minutes` at `watts`. */
type Phase = readonly [minutes: number, watts: number];

interface Run {
  start: number;
  end: number;
  phases: readonly Phase[];
}

/** The runs of a programme appliance (several may overlap: hob and kettle). */
class Runs {
  private runs: Run[] = [];

  add(start: number, phases: readonly Phase[]): number {
    const minutes = phases.reduce((sum, [m]) => sum + m, 0);
    const end = start + minutes * 60_000;
    this.runs.push({ start, end, phases });
    return end;
  }

  power(now: number): number {
    let total = 0;
    let expired = false;
    for (const run of this.runs) {
      if (now >= run.end) {
        expired = true;
        continue;
      }
      if (now < run.start) continue;
      let offset = (now - run.start) / 60_000;
      for (const [minutes, watts] of run.phases) {
        if (offset < minutes) {
          total += watts;
          break;
        }
        offset -= minutes;
      }
    }
    if (expired) this.runs = this.runs.filter((run) => now < run.end);
    return total;
  }
}

// ---------------------------------------------------------------------------------------------
// The household's day.

interface Day {
  /** UTC midnight of the day. */
  midnight: number;
  weekend: boolean;
  /** Hours of the day. */
  wake: number;
  sleep: number;
  /** Intervals (hours of the day) when nobody is home. */
  away: [number, number][];
  sun: { sunrise: number; sunset: number };
}

type Household = 'commuter' | 'homebody';

/** Sunrise and sunset (UTC hours) on the day of `now`, for a mid-latitude site. */
export function sunHours(now: number): { sunrise: number; sunset: number } {
  const year = new Date(now).getUTCFullYear();
  const dayOfYear = (now - Date.UTC(year, 0, 1)) / DAY_MS;
  const length = 12 + 4 * Math.cos((2 * Math.PI * (dayOfYear - 172)) / 365.25);
  return { sunrise: 12.5 - length / 2, sunset: 12.5 + length / 2 };
}

/** Daylight, 0..1, at an hour of a day with the given sunrise and sunset: dusk and dawn are gradual. */
export function daylight(hour: number, sun: { sunrise: number; sunset: number }): number {
  const s = (x: number): number => 1 / (1 + Math.exp(-x / 0.35));
  return s(hour - sun.sunrise) * s(sun.sunset - hour);
}

const minutesAt = (midnight: number, hour: number): number => midnight + hour * HOUR_MS;

class HomeSimulation {
  private readonly household: Household;
  private readonly people: number;
  private readonly weather: OutdoorTemperature;
  private readonly dayRng: Rng;
  private readonly noiseRng: Rng;
  private day: Day | null = null;

  // fridge
  private readonly fridgeWatts: number;
  private readonly fridgeCooling: number;
  private readonly fridgeLeakMinutes: number;
  private readonly defrostHour: number;
  private fridgeTemp: number;
  private compressorOn = false;
  private readonly fridgeRng: Rng;

  // hvac and the house
  private readonly ua: number;
  private readonly capacity: number;
  private readonly maxHeat: number;
  private readonly heatPump: boolean;
  private readonly hasCooling: boolean;
  private readonly comfort: number;
  private readonly setback: number;
  private readonly coolSetpoint: number;
  private indoor: number;

  // lighting and plugs
  private readonly lightWatts: number;
  private readonly standbyWatts: number;
  private readonly activePlugWatts: number;
  private readonly plugNoise: DriftingNoise;

  // programmes
  private readonly cooking = new Runs();
  private readonly dishwasher = new Runs();
  private readonly laundry = new Runs();
  private readonly hasDishwasher: boolean;
  private readonly dishwasherChance: number;
  private readonly hasDryer: boolean;
  private readonly laundryDays: { weekday: number; weekend: number };
  private readonly programmeRng: Rng;

  // ev
  private readonly ev: {
    capacityKwh: number;
    chargerKw: number;
    threshold: number;
    target: number;
    commuteKwh: number;
    offPeakHour: number | null;
  } | null;
  private soc = 0.8;
  private plugged = false;
  private chargeFrom = 0;
  private evEvents: { at: number; kind: 'drive' | 'plug'; kwh: number }[] = [];
  private readonly evRng: Rng;

  constructor(
    rng: Rng,
    private readonly homeId: string,
  ) {
    const traits = rng.fork('traits');
    this.household = traits.chance(0.7) ? 'commuter' : 'homebody';
    this.people = traits.int(1, 5);
    this.weather = new OutdoorTemperature(rng.fork('weather'));
    this.dayRng = rng.fork('days');
    this.noiseRng = rng.fork('noise');

    this.fridgeRng = rng.fork('fridge');
    this.fridgeWatts = traits.uniform(90, 160);
    this.fridgeCooling = traits.uniform(0.07, 0.1); // °C per minute while the compressor runs
    this.fridgeLeakMinutes = traits.uniform(500, 800);
    this.defrostHour = traits.uniform(0, 24);
    this.fridgeTemp = this.fridgeRng.uniform(3, 5);

    this.ua = traits.uniform(90, 260); // W/K
    this.capacity = this.ua * traits.uniform(20, 45) * 3600; // J/K: a time constant of 20–45 h
    this.maxHeat = this.ua * 32;
    this.heatPump = traits.chance(0.75);
    this.hasCooling = traits.chance(0.55);
    this.comfort = traits.uniform(19.5, 22);
    this.setback = traits.chance(0.7) ? traits.uniform(2, 4.5) : 0;
    this.coolSetpoint = traits.uniform(24, 26.5);
    this.indoor = this.comfort;

    this.lightWatts = traits.uniform(80, 180) * Math.sqrt(this.people);
    // Router, standby, ventilation, a freezer's average: what a home draws at night.
    this.standbyWatts = traits.uniform(110, 300);
    this.activePlugWatts = traits.uniform(80, 250) * Math.sqrt(this.people);
    this.plugNoise = new DriftingNoise(rng.fork('plug-noise'), 0.15, 3600);

    this.programmeRng = rng.fork('programmes');
    this.hasDishwasher = traits.chance(0.75);
    this.dishwasherChance = traits.uniform(0.3, 0.9);
    this.hasDryer = traits.chance(0.6);
    const laundryPerWeek = Math.min(6, this.people * traits.uniform(0.8, 1.5));
    this.laundryDays = { weekday: laundryPerWeek / 12, weekend: Math.min(0.9, laundryPerWeek / 4) };

    this.evRng = rng.fork('ev');
    this.ev = traits.chance(0.45)
      ? {
          capacityKwh: traits.pick([40, 52, 60, 75]),
          chargerKw: traits.pick([3.7, 7.4, 7.4, 11]),
          threshold: traits.uniform(0.35, 0.7),
          target: traits.uniform(0.85, 1),
          commuteKwh: traits.uniform(5, 14),
          offPeakHour: traits.chance(0.35) ? traits.int(0, 2) : null,
        }
      : null;
    if (this.ev) this.soc = this.evRng.uniform(this.ev.threshold, this.ev.target);
  }

  run(samples: number, stepMinutes: number, start: number): GeneratedHome {
    const kinds: ApplianceKind[] = ['fridge', 'hvac', 'lighting', 'plugs', 'cooking'];
    if (this.hasDishwasher) kinds.push('dishwasher');
    kinds.push('laundry');
    if (this.ev) kinds.push('ev');
    const series = kinds.map(() => new Float64Array(samples));
    const home = new Float64Array(samples);
    const outdoorTemperature = new Float64Array(samples);
    const timestamps = new Float64Array(samples);

    const stepMs = stepMinutes * 60_000;
    // Simulate at a minute (or the step, when shorter) and report the mean over each step.
    const subSteps = Math.max(1, Math.round(stepMinutes));
    const subMs = stepMs / subSteps;
    const subSeconds = subMs / 1000;
    const sums = new Float64Array(kinds.length);
    const watts = new Float64Array(APPLIANCE_KINDS.length);
    const index = kinds.map((kind) => KIND_INDEX[kind]);

    for (let i = 0; i < samples; i++) {
      const ts = start + i * stepMs;
      timestamps[i] = ts;
      sums.fill(0);
      let outdoorSum = 0;
      for (let s = 0; s < subSteps; s++) {
        const now = ts + s * subMs;
        const outdoor = this.weather.step(subSeconds, now);
        outdoorSum += outdoor;
        this.step(now, subSeconds, outdoor, watts);
        for (let k = 0; k < kinds.length; k++) sums[k] += watts[index[k]];
      }
      // + 0: never -0, which JSON would not tell from 0.
      outdoorTemperature[i] = Math.round((outdoorSum / subSteps) * 100) / 100 + 0;
      let total = 0;
      for (let k = 0; k < kinds.length; k++) {
        const mean = sums[k] / subSteps;
        // Meter noise, 1 %; a meter reads whole watts and never below zero.
        const value = mean > 0 ? Math.max(0, Math.round(mean * (1 + this.noiseRng.normal(0, 0.01)))) : 0;
        series[k][i] = value;
        total += value;
      }
      home[i] = total;
    }

    return {
      homeId: this.homeId,
      appliances: kinds.map((kind, k) => ({
        id: applianceIdFor(this.homeId, kind),
        kind,
        series: series[k],
      })),
      home,
      outdoorTemperature,
      timestamps,
    };
  }

  /** Advances every appliance by `seconds` to `now`; writes their power (W) into `out`, by KIND_INDEX. */
  private step(now: number, seconds: number, outdoor: number, out: Float64Array): void {
    const midnight = Math.floor(now / DAY_MS) * DAY_MS;
    if (this.day?.midnight !== midnight) this.planDay(midnight);
    const day = this.day as Day;
    const h = hourOfDay(now);
    let atHome = true;
    for (const [from, to] of day.away) if (h >= from && h < to) atHome = false;
    const awake = h >= day.wake && h < day.sleep;
    const active = atHome && awake;

    const dark = 1 - daylight(h, day.sun);
    const lighting = active ? this.lightWatts * (0.15 + 0.85 * dark) : atHome ? 5 : 0;
    const plugNoise = this.plugNoise.step(seconds);
    const plugs = Math.max(
      0,
      this.standbyWatts * (1 + 0.2 * plugNoise) + (active ? this.activePlugWatts * (1 + plugNoise) : 0),
    );
    const cooking = this.cooking.power(now);
    const dishwasher = this.dishwasher.power(now);
    const laundry = this.laundry.power(now);
    const ev = this.stepEv(now, seconds);

    // Heat gains: people at home, most appliance power ends up as heat, some sun.
    const gains =
      (atHome ? 70 * this.people : 0) +
      0.8 * (lighting + plugs + cooking) +
      0.3 * (dishwasher + laundry) +
      400 * (1 - dark);
    const hvac = this.stepHvac(seconds, outdoor, gains, atHome, awake);
    const fridge = this.stepFridge(now, seconds, active);

    out[KIND_INDEX.fridge] = fridge;
    out[KIND_INDEX.hvac] = hvac;
    out[KIND_INDEX.lighting] = lighting;
    out[KIND_INDEX.plugs] = plugs;
    out[KIND_INDEX.cooking] = cooking;
    out[KIND_INDEX.dishwasher] = dishwasher;
    out[KIND_INDEX.laundry] = laundry;
    out[KIND_INDEX.ev] = ev;
  }

  private stepHvac(seconds: number, outdoor: number, gains: number, atHome: boolean, awake: boolean): number {
    const heatSetpoint = atHome && awake ? this.comfort : this.comfort - this.setback;
    const coolSetpoint = atHome ? this.coolSetpoint : this.coolSetpoint + 3;
    const loss = this.ua * (this.indoor - outdoor);
    // Heat needed to reach the setpoint in half an hour, on top of holding against the losses.
    let thermal = 0;
    if (this.indoor < heatSetpoint) {
      thermal = clamp((this.capacity * (heatSetpoint - this.indoor)) / 1800 + loss - gains, 0, this.maxHeat);
    } else if (this.hasCooling && this.indoor > coolSetpoint) {
      thermal = -clamp((this.capacity * (this.indoor - coolSetpoint)) / 1800 - loss + gains, 0, this.ua * 20);
    }
    this.indoor += (seconds * (thermal + gains - loss)) / this.capacity;
    if (thermal === 0) return 0;
    const cop =
      thermal > 0
        ? this.heatPump
          ? clamp(2.6 + 0.07 * outdoor, 1.7, 4.5)
          : 1
        : clamp(4.5 - 0.08 * (outdoor - 20), 2, 4.5);
    return Math.abs(thermal) / cop + 60;
  }

  private stepFridge(now: number, seconds: number, active: boolean): number {
    const minutes = seconds / 60;
    const h = hourOfDay(now);
    const defrosting = h >= this.defrostHour && h < this.defrostHour + 1 / 3;
    // Warms towards the room; door openings let warm air in.
    this.fridgeTemp += ((this.indoor - this.fridgeTemp) * minutes) / this.fridgeLeakMinutes;
    if (active && this.fridgeRng.chance(0.03 * minutes)) this.fridgeTemp += this.fridgeRng.uniform(0.1, 0.5);
    if (defrosting) {
      this.compressorOn = false;
      this.fridgeTemp += 0.02 * minutes;
      return 250;
    }
    if (this.compressorOn) {
      this.fridgeTemp -= this.fridgeCooling * minutes;
      if (this.fridgeTemp <= 3) this.compressorOn = false;
    } else if (this.fridgeTemp >= 5) {
      this.compressorOn = true;
    }
    return this.compressorOn ? this.fridgeWatts : 1;
  }

  private stepEv(now: number, seconds: number): number {
    const ev = this.ev;
    if (!ev) return 0;
    while (this.evEvents.length > 0 && this.evEvents[0].at <= now) {
      const event = this.evEvents.shift() as { at: number; kind: 'drive' | 'plug'; kwh: number };
      if (event.kind === 'drive') {
        this.plugged = false;
        this.soc = Math.max(0.05, this.soc - event.kwh / ev.capacityKwh);
      } else if (this.soc < ev.threshold) {
        this.plugged = true;
        this.chargeFrom = event.at;
        if (ev.offPeakHour !== null) {
          const midnight = Math.floor(event.at / DAY_MS) * DAY_MS;
          let from = midnight + ev.offPeakHour * HOUR_MS;
          if (from < event.at) from += DAY_MS;
          this.chargeFrom = from;
        }
      }
    }
    if (!this.plugged || now < this.chargeFrom || this.soc >= ev.target) return 0;
    // Charging slows down above 80 %.
    const kw = this.soc < 0.8 ? ev.chargerKw : Math.max(1.4, ev.chargerKw * (1 - (this.soc - 0.8) * 3.5));
    const kwh = Math.min((kw * seconds) / 3600, (ev.target - this.soc) * ev.capacityKwh);
    this.soc += kwh / ev.capacityKwh;
    if (this.soc >= ev.target - 1e-9) this.plugged = false;
    return (kwh * 3_600_000) / seconds;
  }

  /** Draws the household's day: routine, outings, programmes and the car's trips. */
  private planDay(midnight: number): void {
    const rng = this.dayRng;
    const weekday = new Date(midnight).getUTCDay();
    const weekend = weekday === 0 || weekday === 6;
    const wake = clamp(weekend ? rng.normal(8.2, 0.7) : rng.normal(6.6, 0.35), 5, 10.5);
    const sleep = clamp(rng.normal(weekend ? 23.4 : 22.9, 0.4), 21.5, 23.95);
    const away: [number, number][] = [];
    let driveAt: number | null = null;
    let driveKwh = 0;
    let plugAt: number | null = null;

    const ev = this.ev;
    if (this.household === 'commuter' && !weekend) {
      const leave = clamp(wake + rng.uniform(0.6, 1.4), 6, 10);
      const back = clamp(rng.normal(17.7, 0.6), leave + 4, sleep - 1);
      away.push([leave, back]);
      driveAt = leave;
      plugAt = back;
      // The commute costs about the same every day: the battery runs down like a sawtooth, and
      // the car's own history says when it will next be charged.
      if (ev) driveKwh = ev.commuteKwh * rng.uniform(0.95, 1.05) + (rng.chance(0.08) ? rng.uniform(2, 8) : 0);
    } else if (rng.chance(weekend ? 0.6 : 0.45)) {
      const leave = clamp(rng.uniform(10, 14), wake + 0.5, 15);
      const back = clamp(leave + rng.uniform(2, 6), leave + 1, sleep - 0.5);
      away.push([leave, back]);
      driveAt = leave;
      plugAt = back;
      if (ev) driveKwh = rng.uniform(3, weekend ? 15 : 10);
    }
    this.day = { midnight, weekend, wake, sleep, away, sun: sunHours(midnight) };

    if (ev && driveAt !== null && plugAt !== null) {
      this.evEvents.push({ at: minutesAt(midnight, driveAt), kind: 'drive', kwh: driveKwh });
      this.evEvents.push({
        at: minutesAt(midnight, plugAt) + rng.uniform(0, 0.2) * HOUR_MS,
        kind: 'plug',
        kwh: 0,
      });
    }

    // Meals: breakfast on waking, lunch when home at noon, dinner after coming home.
    const p = this.programmeRng;
    const home = (hour: number): boolean => !away.some(([from, to]) => hour >= from && hour < to);
    if (p.chance(0.75)) {
      this.cooking.add(minutesAt(midnight, wake + p.uniform(0.1, 0.4)), [
        [p.uniform(4, 12), p.uniform(1500, 2200)],
      ]);
    }
    if (home(12.5) && p.chance(0.55)) {
      this.cooking.add(minutesAt(midnight, p.uniform(11.8, 13)), [
        [p.uniform(10, 25), p.uniform(1200, 2000)],
      ]);
    }
    let dinnerEnd = 19.5;
    if (p.chance(0.88)) {
      const back = away.length > 0 ? away[away.length - 1][1] : 17.5;
      const dinner = Math.max(back + p.uniform(0.3, 1), p.normal(18.6, 0.4));
      const minutes = p.uniform(25, 70);
      const watts = p.uniform(1800, 3200) * (0.8 + 0.1 * this.people);
      // An oven or hob cycles on its thermostat: full power first, then on and off.
      this.cooking.add(minutesAt(midnight, dinner), [
        [minutes * 0.3, watts],
        [minutes * 0.35, watts * 0.45],
        [minutes * 0.35, watts * 0.6],
      ]);
      dinnerEnd = dinner + minutes / 60;
    }
    if (this.hasDishwasher && p.chance(this.dishwasherChance)) {
      const at = Math.min(sleep - 0.1, dinnerEnd + p.uniform(0.3, 1.5));
      this.dishwasher.add(minutesAt(midnight, at), [
        [5, 60],
        [20, 2000],
        [40, 120],
        [15, 1900],
        [25, 30],
      ]);
    }
    if (p.chance(weekend ? this.laundryDays.weekend : this.laundryDays.weekday)) {
      const at = weekend
        ? p.uniform(Math.max(wake + 0.5, 9), 14)
        : Math.min(sleep - 1.5, plugAt ?? 18) + p.uniform(0.5, 1.5);
      const washEnd = this.laundry.add(minutesAt(midnight, at), [
        [15, p.uniform(1800, 2200)],
        [50, p.uniform(150, 300)],
        [12, p.uniform(350, 550)],
      ]);
      if (this.hasDryer && p.chance(0.7)) {
        this.laundry.add(washEnd + p.uniform(5, 40) * 60_000, [
          [p.uniform(45, 90), p.uniform(2000, 2600)],
          [15, 200],
        ]);
      }
    }
  }
}
