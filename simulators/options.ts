import { DEFAULT_NAMESPACE, isValidNamespace, PROFILE_NAMES, type ProfileName } from './contract.js';
import type { FaultRates } from './faults.js';
import { randomSeed } from './rng.js';

/** What a fleet run is asked to do; the CLI's flags map onto it one to one. */
export interface FleetOptions {
  /** mqtt://, mqtts://, ws:// or wss:// URL of the broker. */
  broker: string;
  profile: ProfileName;
  devices: number;
  /** Readings per second per device (may be below 1). */
  rate: number;
  namespace?: string;
  /** Number of the first device: devices are `<namespace>:<profile>-<first>` onwards. */
  first?: number;
  /** Same seed, same signals and faults. Without one a random seed is drawn and reported. */
  seed?: string | number;
  faults?: Partial<FaultRates>;
  /** Each device drops its connection without DISCONNECT this often, so its Last Will fires. */
  disconnectEverySeconds?: number;
  /** Each device stops after this many valid readings. */
  count?: number;
  /** The whole fleet stops after this long. */
  durationSeconds?: number;
  signal?: AbortSignal;
  username?: string;
  password?: string;
  /**
   * Each device's own secret (thingId → secret, e.g. from provisionFleet or a credentials file):
   * the device logs in with user name = client id = its thingId. Such a device only publishes on
   * its own topics (no 'bad-topic' faults: a broker with device identity would refuse them).
   */
  credentials?: Record<string, string>;
  /** MQTT clean session; false (the default) keeps each device's session across reconnects. */
  clean?: boolean;
  /** A device that has not connected for the first time by then fails the run. */
  connectTimeoutMs?: number;
  reconnectPeriodMs?: number;
  /** How long stopping devices wait for outstanding acknowledgements. */
  drainTimeoutMs?: number;
  /** Keep every acknowledged valid reading in the summary (memory grows with the run). */
  record?: boolean;
}

export interface ResolvedFleetOptions extends Required<
  Omit<
    FleetOptions,
    | 'signal'
    | 'username'
    | 'password'
    | 'credentials'
    | 'count'
    | 'durationSeconds'
    | 'disconnectEverySeconds'
  >
> {
  credentials?: Record<string, string>;
  seed: string;
  faults: FaultRates;
  signal?: AbortSignal;
  username?: string;
  password?: string;
  count?: number;
  durationSeconds?: number;
  disconnectEverySeconds?: number;
}

export class FleetOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'FleetOptionsError';
  }
}

export const LIMITS = {
  devices: { min: 1, max: 100_000 },
  rate: { min: 0.001, max: 1000 },
  first: { min: 0, max: 1_000_000_000 },
} as const;

/**
 * Fills in defaults and checks every option, reporting all problems at once. `label` names an
 * option in messages (the CLI passes its flag names).
 */
export function resolveFleetOptions(
  options: FleetOptions,
  label: (option: string) => string = (option) => option,
): ResolvedFleetOptions {
  const problems: string[] = [];
  const check = (ok: boolean, option: string, rule: string, got: unknown): void => {
    if (!ok) problems.push(`${label(option)} must be ${rule} (got ${JSON.stringify(got) ?? String(got)})`);
  };
  const isInt = (n: unknown, min: number, max: number): boolean =>
    typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;
  const isNum = (n: unknown, min: number, max: number): boolean =>
    typeof n === 'number' && Number.isFinite(n) && n >= min && n <= max;

  const { broker, profile, devices, rate } = options;
  check(
    typeof broker === 'string' && /^(mqtts?|wss?|tcp|ssl):\/\/[^/\s]+/.test(broker),
    'broker',
    'a URL such as mqtt://127.0.0.1:1883',
    broker,
  );
  check(
    (PROFILE_NAMES as readonly string[]).includes(profile),
    'profile',
    `one of ${PROFILE_NAMES.join(', ')}`,
    profile,
  );
  check(
    isInt(devices, LIMITS.devices.min, LIMITS.devices.max),
    'devices',
    `an integer from ${LIMITS.devices.min} to ${LIMITS.devices.max}`,
    devices,
  );
  check(
    isNum(rate, LIMITS.rate.min, LIMITS.rate.max),
    'rate',
    `readings per second from ${LIMITS.rate.min} to ${LIMITS.rate.max}`,
    rate,
  );
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  check(isValidNamespace(namespace), 'namespace', 'a Ditto namespace such as org.example.sim', namespace);
  const first = options.first ?? 1;
  check(isInt(first, LIMITS.first.min, LIMITS.first.max), 'first', 'a non-negative integer', first);

  const faults: FaultRates = {
    duplicate: options.faults?.duplicate ?? 0,
    outOfOrder: options.faults?.outOfOrder ?? 0,
    malformed: options.faults?.malformed ?? 0,
  };
  for (const [name, value] of Object.entries(faults)) {
    check(isNum(value, 0, 1), `faults.${name}`, 'a probability from 0 to 1', value);
  }
  const positive = (option: keyof FleetOptions, integer: boolean): void => {
    const value = options[option];
    if (value === undefined) return;
    const ok = integer ? isInt(value, 1, Number.MAX_SAFE_INTEGER) : isNum(value, 0, Infinity) && value !== 0;
    check(ok, option, integer ? 'a positive integer' : 'a positive number', value);
  };
  positive('count', true);
  positive('durationSeconds', false);
  positive('disconnectEverySeconds', false);
  positive('connectTimeoutMs', false);
  positive('drainTimeoutMs', false);
  positive('reconnectPeriodMs', false);
  if (problems.length > 0) throw new FleetOptionsError(problems);

  return {
    ...options,
    namespace,
    first,
    seed: options.seed === undefined ? randomSeed() : String(options.seed),
    faults,
    clean: options.clean ?? false,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    reconnectPeriodMs: options.reconnectPeriodMs ?? 1000,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    record: options.record ?? false,
  };
}
