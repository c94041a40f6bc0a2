import { connect, type MqttClient } from 'mqtt';
import {
  isValidNamespace,
  QOS,
  statusTopic,
  STATUS_OFFLINE,
  STATUS_ONLINE,
  telemetryTopic,
} from './contract.js';
import { DAY_MS } from './profiles/environment.js';
import { generateHomes, MAX_HOMES, type GeneratedHome } from './profiles/homes.js';

/**
 * The `homes` profile: homes made of sub-metered appliances (profiles/homes.ts), each home and
 * each appliance a twin and a device of its own, and a backfill that sends days of timestamped
 * readings through MQTT as fast as the platform acknowledges them, so a fresh install has
 * history to forecast from.
 *
 * Twins:
 *   <ns>:home-<n>           energy {power W, energy kWh}, weather {outdoorTemperature °C};
 *                           attributes {type: "home"}
 *   <ns>:home-<n>-<kind>    energy {power W, energy kWh};
 *                           attributes {type: "appliance", kind, partOf: "<ns>:home-<n>"}
 * A home's power is, reading by reading, the sum of its appliances' powers.
 */

export interface HomeThing {
  thingId: string;
  /** 'home', or the appliance's kind (fridge, hvac, ev, …). */
  kind: string;
  /** The home's thingId, for appliances. */
  partOf?: string;
  attributes: Record<string, string>;
}

export interface HomesBackfillOptions {
  broker: string;
  namespace: string;
  homes: number;
  /** Days of history to send, ending at `end`. */
  days: number;
  stepMinutes: number;
  seed: string | number;
  /** Epoch ms the backfill ends at (exclusive); default now, rounded down to the step. */
  end?: number;
  /**
   * Then goes on live for this many days: each further reading is sent when its time comes,
   * continuing the same homes (one generated series, so the history flows into the live part).
   */
  liveDays?: number;
  /** Publishes awaiting their PUBACK, over all devices (default DEFAULT_INFLIGHT). */
  inflight?: number;
  /** thingId → the device's own secret: each device logs in as itself. */
  credentials?: Record<string, string>;
  username?: string;
  password?: string;
  connectTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (progress: BackfillProgress) => void;
  progressIntervalMs?: number;
  /** Runs once the twins are known, before any reading is sent (e.g. writeTopology). */
  beforeSend?: (things: HomeThing[]) => Promise<void>;
}

export interface BackfillProgress {
  things: number;
  total: number;
  acknowledged: number;
  ratePerSecond: number;
  elapsedMs: number;
}

export interface BackfillSummary {
  seed: string;
  homes: number;
  things: number;
  /** Epoch ms of the first and after the last reading. */
  from: number;
  to: number;
  stepMinutes: number;
  /** Telemetry messages (one per thing and step) and how many the broker acknowledged. */
  total: number;
  acknowledged: number;
  failed: number;
  durationMs: number;
  stoppedBy: 'done' | 'signal';
}

export const HOMES_LIMITS = {
  homes: { min: 1, max: MAX_HOMES },
  days: { min: 1 / 24, max: 400 },
  stepMinutes: { min: 1, max: 1440 },
  inflight: { min: 1, max: 100_000 },
} as const;

export const DEFAULT_STEP_MINUTES = 15;
export const DEFAULT_INFLIGHT = 2000;

/** `60d`, `36h`, `90m` or a bare number of days → days; undefined when unreadable. */
export function parseBackfill(text: string): number | undefined {
  const m = /^(\d{1,6}(?:\.\d{1,6})?)([dhm]?)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const days = m[2] === 'h' ? n / 24 : m[2] === 'm' ? n / 1440 : n;
  return days > 0 ? days : undefined;
}

export function homeThingId(namespace: string, homeId: string): string {
  return `${namespace}:${homeId}`;
}

/** The twins of the generated homes, each home followed by its appliances. */
export function homeThings(namespace: string, homes: readonly GeneratedHome[]): HomeThing[] {
  return homes.flatMap((home) => {
    const homeThing = homeThingId(namespace, home.homeId);
    return [
      { thingId: homeThing, kind: 'home', attributes: { type: 'home' } },
      ...home.appliances.map((a) => ({
        thingId: homeThingId(namespace, a.id),
        kind: a.kind,
        partOf: homeThing,
        attributes: { type: 'appliance', kind: a.kind, partOf: homeThing },
      })),
    ];
  });
}

/** The thing ids of a homes run, without generating the series (for provisioning). */
export function homesThingIds(options: Pick<HomesBackfillOptions, 'namespace' | 'homes' | 'seed'>): string[] {
  // Which appliances a home has depends on the seed only: one step of one day tells.
  const sample = generateHomes({
    seed: seedNumber(options.seed),
    homes: options.homes,
    days: 1 / 24,
    stepMinutes: 60,
    start: 0,
  });
  return homeThings(options.namespace, sample).map((t) => t.thingId);
}

/** generateHomes takes a number; a textual seed is hashed to one. */
export function seedNumber(seed: string | number): number {
  if (typeof seed === 'number') return seed;
  if (/^\d{1,15}$/.test(seed)) return Number(seed);
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** A home's or an appliance's telemetry at step i: power, the energy counter and (homes) weather. */
interface Series {
  thing: HomeThing;
  power: Float64Array;
  outdoor?: Float64Array;
}

/**
 * Sets the topology attributes on the twins over the platform's API as `user` ("name:password"):
 * a merge of each thing's attributes, so attributes set by others stay.
 */
export async function writeTopology(api: string, user: string, things: readonly HomeThing[]): Promise<void> {
  const authorization = `Basic ${Buffer.from(user).toString('base64')}`;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < things.length) {
      const thing = things[next++];
      const res = await fetch(new URL(`/api/2/things/${encodeURIComponent(thing.thingId)}/attributes`, api), {
        method: 'PATCH',
        headers: { authorization, 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify(thing.attributes),
      });
      if (res.status >= 300) {
        throw new Error(
          `setting the attributes of ${thing.thingId} failed: ${res.status} ${(await res.text()).slice(0, 300)}`,
        );
      }
      await res.arrayBuffer().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, things.length) }, worker));
}

export function resolveHomesOptions(options: HomesBackfillOptions): string[] {
  const problems: string[] = [];
  const within = (value: number, { min, max }: { min: number; max: number }): boolean =>
    Number.isFinite(value) && value >= min && value <= max;
  if (!Number.isInteger(options.homes) || !within(options.homes, HOMES_LIMITS.homes)) {
    problems.push(`homes must be an integer from 1 to ${HOMES_LIMITS.homes.max} (got ${options.homes})`);
  }
  const liveDays = options.liveDays ?? 0;
  if (liveDays !== 0 && !within(liveDays, HOMES_LIMITS.days))
    problems.push(`the live span must be from 1h to 400d (got ${liveDays} days)`);
  if (!within(options.days, HOMES_LIMITS.days))
    problems.push(`the backfill must be from 1h to 400d (got ${options.days} days)`);
  if (!Number.isInteger(options.stepMinutes) || !within(options.stepMinutes, HOMES_LIMITS.stepMinutes)) {
    problems.push(`the step must be whole minutes from 1 to 1440 (got ${options.stepMinutes})`);
  }
  const inflight = options.inflight ?? DEFAULT_INFLIGHT;
  if (!Number.isInteger(inflight) || !within(inflight, HOMES_LIMITS.inflight)) {
    problems.push(`inflight must be an integer from 1 to ${HOMES_LIMITS.inflight.max} (got ${inflight})`);
  }
  if (!isValidNamespace(options.namespace))
    problems.push(`namespace ${JSON.stringify(options.namespace)} is not valid`);
  if (!/^(mqtts?|wss?|tcp|ssl):\/\/[^/\s]+/.test(options.broker))
    problems.push(`broker ${JSON.stringify(options.broker)} is not an MQTT URL`);
  return problems;
}

/**
 * Generates the homes and sends every reading of every home and appliance, oldest first, each
 * device on its own MQTT connection, QoS 1, with at most `inflight` publishes awaiting their
 * PUBACK at a time: as fast as the platform takes them, never faster. Resolves when all were
 * acknowledged (or the signal aborted and what was in flight was acknowledged).
 */
export async function runHomesBackfill(options: HomesBackfillOptions): Promise<BackfillSummary> {
  const problems = resolveHomesOptions(options);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const stepMs = options.stepMinutes * 60_000;
  const end = Math.floor((options.end ?? Date.now()) / stepMs) * stepMs;
  const backfilled = Math.max(1, Math.round((options.days * DAY_MS) / stepMs));
  const live = Math.max(0, Math.round(((options.liveDays ?? 0) * DAY_MS) / stepMs));
  const samples = backfilled + live;
  const from = end - backfilled * stepMs;
  const homes = generateHomes({
    seed: seedNumber(options.seed),
    homes: options.homes,
    days: (samples * options.stepMinutes) / 1440,
    stepMinutes: options.stepMinutes,
    start: from,
  });
  const things = homeThings(options.namespace, homes);
  const series: Series[] = [];
  let t = 0;
  for (const home of homes) {
    series.push({ thing: things[t++], power: home.home, outdoor: home.outdoorTemperature });
    for (const a of home.appliances) series.push({ thing: things[t++], power: a.series });
  }

  await options.beforeSend?.(things);
  const started = Date.now();
  const clients = await connectAll(things, options);
  const window = options.inflight ?? DEFAULT_INFLIGHT;
  let inflight = 0;
  let acknowledged = 0;
  let failed = 0;
  const waiting: (() => void)[] = [];
  const rateSamples: { at: number; acked: number }[] = [{ at: started, acked: 0 }];
  const progress = (): BackfillProgress => {
    const now = Date.now();
    rateSamples.push({ at: now, acked: acknowledged });
    while (rateSamples.length > 2 && now - rateSamples[1].at >= 3000) rateSamples.shift();
    const seconds = (now - rateSamples[0].at) / 1000;
    return {
      things: things.length,
      total: samples * things.length,
      acknowledged,
      ratePerSecond: seconds > 0 ? (acknowledged - rateSamples[0].acked) / seconds : 0,
      elapsedMs: now - started,
    };
  };
  const timer = options.onProgress
    ? setInterval(() => options.onProgress?.(progress()), options.progressIntervalMs ?? 500)
    : undefined;

  const slot = (): Promise<void> | undefined =>
    inflight < window ? undefined : new Promise<void>((resolve) => waiting.push(resolve));
  const energy = new Float64Array(series.length);
  let stoppedBy: BackfillSummary['stoppedBy'] = 'done';
  try {
    outer: for (let i = 0; i < samples; i++) {
      const ts = from + i * stepMs;
      for (let s = 0; s < series.length; s++) {
        if (options.signal?.aborted) {
          stoppedBy = 'signal';
          break outer;
        }
        while (inflight >= window) await slot();
        // Live: a reading goes out when its time has come, not before.
        if (s === 0 && ts > Date.now()) {
          await sleep(ts - Date.now(), options.signal);
          if (options.signal?.aborted) continue;
        }
        const { thing, power, outdoor } = series[s];
        const watts = power[i];
        const features: Record<string, Record<string, number>> = {
          energy: { power: watts, energy: Math.round(energy[s] * 1000) / 1000 },
        };
        // The counter reads the energy up to this reading's time; the step's mean power adds to it after.
        energy[s] += (watts * options.stepMinutes) / 60 / 1000;
        if (outdoor) features.weather = { outdoorTemperature: outdoor[i] };
        // seq counts steps since the epoch: it grows reading by reading, and a repeated
        // backfill sends the same (ts, seq), which the platform stores once.
        const payload = JSON.stringify({ ts, seq: Math.round(ts / stepMs), features });
        inflight++;
        clients[s].publish(telemetryTopic(thing.thingId), payload, { qos: QOS }, (err) => {
          inflight--;
          if (err) failed++;
          else acknowledged++;
          waiting.shift()?.();
        });
      }
    }
    while (inflight > 0) await new Promise<void>((resolve) => waiting.push(resolve));
  } finally {
    clearInterval(timer);
    await Promise.all(clients.map((client) => disconnect(client)));
  }
  options.onProgress?.(progress());
  return {
    seed: String(options.seed),
    homes: homes.length,
    things: things.length,
    from,
    to: from + samples * stepMs,
    stepMinutes: options.stepMinutes,
    total: samples * things.length,
    acknowledged,
    failed,
    durationMs: Date.now() - started,
    stoppedBy,
  };
}

/** One connection per device, at most 32 connecting at a time; rejects if one cannot connect. */
async function connectAll(
  things: readonly HomeThing[],
  options: HomesBackfillOptions,
): Promise<MqttClient[]> {
  const clients: MqttClient[] = new Array<MqttClient>(things.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < things.length) {
      const i = next++;
      clients[i] = await connectDevice(things[i].thingId, options);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(32, things.length) }, worker));
  } catch (err) {
    await Promise.all(clients.filter(Boolean).map((c) => c.endAsync(true)));
    throw err;
  }
  return clients;
}

function connectDevice(thingId: string, options: HomesBackfillOptions): Promise<MqttClient> {
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const secret = options.credentials?.[thingId];
  const password = secret ?? options.password;
  return new Promise((resolve, reject) => {
    let lastError: Error | null = null;
    const client = connect(options.broker, {
      clientId: thingId,
      clean: true,
      // A device signs in as itself: with its own secret (or a password alone) its thingId is the name.
      username:
        secret !== undefined ? thingId : (options.username ?? (password === undefined ? undefined : thingId)),
      password,
      reconnectPeriod: 1000,
      connectTimeout: Math.min(timeoutMs, 30_000),
      keepalive: 30,
      will: { topic: statusTopic(thingId), payload: Buffer.from(STATUS_OFFLINE), qos: QOS, retain: true },
    });
    const timer = setTimeout(() => {
      void client.endAsync(true);
      reject(
        new Error(
          `${thingId} could not connect to ${options.broker} within ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`,
        ),
      );
    }, timeoutMs);
    client.on('error', (err) => {
      lastError = err;
    });
    client.once('connect', () => {
      clearTimeout(timer);
      client.publish(statusTopic(thingId), STATUS_ONLINE, { qos: QOS, retain: true });
      resolve(client);
    });
  });
}

/** Says offline (a graceful DISCONNECT suppresses the Last Will) and disconnects. */
async function disconnect(client: MqttClient): Promise<void> {
  if (client.connected) {
    const thingId = client.options.clientId ?? '';
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      client.publish(statusTopic(thingId), STATUS_OFFLINE, { qos: QOS, retain: true }, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await client.endAsync();
  } else {
    await client.endAsync(true);
  }
}

/** Resolves after ms, or at once when the signal aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
