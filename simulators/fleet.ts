import { thingIdFor, type Reading } from './contract.js';
import { SimulatedDevice, type DeviceEvents } from './device.js';
import { MALFORMED_KINDS, type MalformedKind, type Outgoing } from './faults.js';
import { resolveFleetOptions, type FleetOptions, type ResolvedFleetOptions } from './options.js';
import { PROFILES } from './profiles/index.js';
import { createRng } from './rng.js';

/** A valid reading the broker acknowledged (first delivery; duplicates are counted apart). */
export interface SentReading extends Reading {
  thingId: string;
  /** Delivered after a newer reading of the same device (an out-of-order fault). */
  late: boolean;
  ackedAt: number;
}

/** Every acknowledged telemetry message, valid or not. */
export type SentMessage = Outgoing & { thingId: string; ackedAt: number };

export interface FleetProgress {
  devices: number;
  connected: number;
  /** Telemetry messages acknowledged by the broker: valid, duplicates and malformed. */
  sent: number;
  valid: number;
  /** Acknowledged messages per second over the last few seconds. */
  ratePerSecond: number;
  elapsedMs: number;
}

export type StopReason = 'count' | 'duration' | 'signal';

export interface FleetSummary {
  seed: string;
  profile: string;
  devices: number;
  sent: number;
  valid: number;
  duplicates: number;
  outOfOrder: number;
  malformed: number;
  malformedByKind: Record<MalformedKind, number>;
  /** Connections lost without a DISCONNECT (forced drops included): each fired the Last Will. */
  disconnects: number;
  reconnects: number;
  desiredApplied: number;
  desiredIgnored: number;
  /** Publishes that were never acknowledged (the broker went away, or the drain timed out). */
  failed: number;
  durationMs: number;
  stoppedBy: StopReason;
  /** Acknowledged valid readings, in acknowledgement order; empty unless `record` is set. */
  readings: SentReading[];
}

export interface FleetHooks {
  onMessage?: (message: SentMessage) => void;
  onProgress?: (progress: FleetProgress) => void;
  progressIntervalMs?: number;
}

/**
 * Runs a fleet of simulated devices until every device has sent `count` readings, `duration`
 * has passed since all connected, or `signal` aborts; then stops every device gracefully and
 * resolves with what was sent. Rejects when the options are invalid (FleetOptionsError) or a
 * device cannot reach the broker within connectTimeoutMs.
 */
export async function runFleet(input: FleetOptions & FleetHooks): Promise<FleetSummary> {
  const options = resolveFleetOptions(input);
  const stats = new FleetStats(options, input);
  const profile = PROFILES[options.profile];
  const root = createRng(options.seed);
  const periodMs = 1000 / options.rate;
  const devices = Array.from({ length: options.devices }, (_, i) => {
    const thingId = thingIdFor(options.namespace, options.profile, options.first + i);
    return new SimulatedDevice(
      {
        ...options,
        thingId,
        ...(options.credentials
          ? { username: thingId, password: options.credentials[thingId], ownSecret: true }
          : {}),
        profile,
        rng: root.fork(thingId),
        periodMs,
        phaseMs: (periodMs * i) / options.devices,
        disconnectEveryMs:
          options.disconnectEverySeconds === undefined ? undefined : options.disconnectEverySeconds * 1000,
      },
      stats,
    );
  });

  const { signal } = options;
  let onAbort = (): void => undefined;
  const aborted = new Promise<'signal'>((resolve) => {
    onAbort = () => resolve('signal');
    if (signal?.aborted) resolve('signal');
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  let durationTimer: NodeJS.Timeout | undefined;
  const progressTimer = input.onProgress
    ? setInterval(() => input.onProgress?.(stats.progress()), input.progressIntervalMs ?? 500)
    : undefined;

  try {
    const started = Promise.all(devices.map((d) => d.start())).then(() => 'started' as const);
    let first: 'started' | 'signal';
    try {
      first = await Promise.race([started, aborted]);
    } catch (err) {
      await Promise.all(devices.map((d) => d.kill()));
      throw err;
    }
    stats.started();
    const finished = Promise.all(devices.map((d) => d.finished)).then(() => 'count' as const);
    const timedOut = new Promise<'duration'>((resolve) => {
      if (options.durationSeconds !== undefined) {
        durationTimer = setTimeout(() => resolve('duration'), options.durationSeconds * 1000);
      }
    });
    const reason = first === 'signal' ? first : await Promise.race([finished, timedOut, aborted]);
    await Promise.all(devices.map((d) => d.stop()));
    return stats.summary(reason);
  } finally {
    clearInterval(progressTimer);
    clearTimeout(durationTimer);
    signal?.removeEventListener('abort', onAbort);
  }
}

const RATE_WINDOW_MS = 3000;

/** The fleet's counters, fed by its devices' events. */
class FleetStats implements DeviceEvents {
  private readonly t0 = Date.now();
  private startedAt = this.t0;
  private connectedNow = new Set<string>();
  private sent = 0;
  private valid = 0;
  private duplicates = 0;
  private outOfOrder = 0;
  private malformedByKind = Object.fromEntries(MALFORMED_KINDS.map((k) => [k, 0])) as Record<
    MalformedKind,
    number
  >;
  private disconnects = 0;
  private reconnects = 0;
  private desiredApplied = 0;
  private desiredIgnored = 0;
  private failures = 0;
  private readonly readings: SentReading[] = [];
  /** Recent (time, sent) samples: the rate is measured over a window, not one interval. */
  private samples: { at: number; sent: number }[] = [{ at: this.t0, sent: 0 }];

  constructor(
    private readonly options: ResolvedFleetOptions,
    private readonly hooks: FleetHooks,
  ) {}

  started(): void {
    this.startedAt = Date.now();
    // The rate counts from here: connecting is not sending.
    this.samples = [{ at: this.startedAt, sent: this.sent }];
  }

  connected(thingId: string, reconnect: boolean): void {
    this.connectedNow.add(thingId);
    if (reconnect) this.reconnects++;
  }

  disconnected(thingId: string): void {
    this.connectedNow.delete(thingId);
    this.disconnects++;
  }

  acknowledged(thingId: string, out: Outgoing): void {
    const ackedAt = Date.now();
    this.sent++;
    switch (out.kind) {
      case 'reading':
        this.valid++;
        if (out.late) this.outOfOrder++;
        if (this.options.record) this.readings.push({ thingId, ...out.reading, late: out.late, ackedAt });
        break;
      case 'duplicate':
        this.duplicates++;
        break;
      case 'malformed':
        this.malformedByKind[out.malformed]++;
        break;
    }
    this.hooks.onMessage?.({ ...out, thingId, ackedAt });
  }

  failed(): void {
    this.failures++;
  }

  desired(_thingId: string, understood: boolean): void {
    if (understood) this.desiredApplied++;
    else this.desiredIgnored++;
  }

  progress(): FleetProgress {
    const now = Date.now();
    this.samples.push({ at: now, sent: this.sent });
    while (this.samples.length > 2 && now - this.samples[1].at >= RATE_WINDOW_MS) this.samples.shift();
    const oldest = this.samples[0];
    const seconds = (now - oldest.at) / 1000;
    const ratePerSecond = seconds > 0 ? (this.sent - oldest.sent) / seconds : 0;
    return {
      devices: this.options.devices,
      connected: this.connectedNow.size,
      sent: this.sent,
      valid: this.valid,
      ratePerSecond,
      elapsedMs: now - this.startedAt,
    };
  }

  summary(stoppedBy: StopReason): FleetSummary {
    return {
      seed: this.options.seed,
      profile: this.options.profile,
      devices: this.options.devices,
      sent: this.sent,
      valid: this.valid,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      malformed: Object.values(this.malformedByKind).reduce((a, b) => a + b, 0),
      malformedByKind: { ...this.malformedByKind },
      disconnects: this.disconnects,
      reconnects: this.reconnects,
      desiredApplied: this.desiredApplied,
      desiredIgnored: this.desiredIgnored,
      failed: this.failures,
      durationMs: Date.now() - this.startedAt,
      stoppedBy,
      readings: this.readings,
    };
  }
}
