/**
 * The device contract the platform's MQTT ingest is built against: topics, the telemetry
 * payload, the status words and the desired-state message. Kept free of I/O so the ingest's
 * tests can import the same definitions the simulated devices use.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

/** One feature's reported properties: property → value (values may nest). */
export type FeatureProperties = Record<string, JsonValue>;
/** featureId → properties, as in `features` of a telemetry payload. */
export type Features = Record<string, FeatureProperties>;

/** The telemetry payload: `{"ts": epoch ms, "seq": per-device increasing integer, "features": …}`. */
export interface Reading {
  ts: number;
  seq: number;
  features: Features;
}

/** featureId → desired properties, as the platform publishes them on `things/{id}/desired`. */
export type Desired = Record<string, Record<string, unknown>>;

export const DEFAULT_NAMESPACE = 'org.example.sim';
export const STATUS_ONLINE = 'online';
export const STATUS_OFFLINE = 'offline';

/** Telemetry, status and desired state are all QoS 1. */
export const QOS = 1;

export const PROFILE_NAMES = ['energy', 'climate', 'machine'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export const telemetryTopic = (thingId: string): string => `things/${thingId}/telemetry`;
export const statusTopic = (thingId: string): string => `things/${thingId}/status`;
export const desiredTopic = (thingId: string): string => `things/${thingId}/desired`;

/** `<namespace>:<profile>-<n>`. */
export function thingIdFor(namespace: string, profile: ProfileName, n: number): string {
  return `${namespace}:${profile}-${n}`;
}

/** A non-empty Ditto namespace, the same rule as the platform's DEFAULT_NAMESPACE. */
const NAMESPACE_PATTERN = /^[a-zA-Z]\w*(?:[.-][a-zA-Z]\w*)*$/;

export function isValidNamespace(namespace: string): boolean {
  return namespace.length < 200 && NAMESPACE_PATTERN.test(namespace);
}

export function encodeReading(reading: Reading): string {
  return JSON.stringify({ ts: reading.ts, seq: reading.seq, features: reading.features });
}

/**
 * The features of a desired-state message, or null when the payload is not the contract's
 * `{"features": {"<featureId>": {…}}}`. Features whose value is not an object are skipped
 * rather than failing the message: a device applies what it understands.
 */
export function parseDesired(payload: Buffer | string): Desired | null {
  let body: unknown;
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return null;
  }
  if (!isObject(body) || !isObject(body.features)) return null;
  const desired: Desired = {};
  for (const [featureId, properties] of Object.entries(body.features)) {
    if (isObject(properties)) desired[featureId] = { ...properties };
  }
  return desired;
}

/** The newer message wins property by property; properties it does not mention are kept. */
export function mergeDesired(current: Desired, incoming: Desired): Desired {
  const merged: Desired = { ...current };
  for (const [featureId, properties] of Object.entries(incoming)) {
    merged[featureId] = { ...merged[featureId], ...properties };
  }
  return merged;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
