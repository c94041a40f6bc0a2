import {
  featureIdProblem,
  readingTime,
  seqProblem,
  storableReadings,
  type StorableReading,
} from '../telemetry/reading.js';
import { isJsonObject } from '../twins/model/json-pointer.js';
import { isValidThingId } from '../twins/model/thing-id.js';
import { storableText } from '../common/text.js';
import { parseDittoCommand, type DeviceCommand } from './ditto-command.js';
import { parseDeviceTopic } from '../protocol/device-topics.js';
import { isMessageTopic } from '../protocol/messages.js';

/**
 * The device contract, as pure functions from an MQTT message to what it means:
 *   things/{thingId}/telemetry  {"ts"?: ms | ISO, "seq"?: int ≥ 0, "features": {f: {prop: value | {sub: value}}}}
 *   things/{thingId}/ditto      a Ditto protocol modify/merge command
 *   things/{thingId}/status     online | offline (the device's Last Will says offline)
 *   things/{thingId}/desired    published by the platform; ignored when it comes back to us
 *   things/{thingId}/[features/{f}/](inbox|outbox)/…  live messages: ignored here (messages/)
 * Anything else is a dead letter with one of DEAD_LETTER_REASONS. This file owns the wire
 * format (topics, encodings, the payload's shape); what makes a reading storable (ids, time,
 * seq, values) is telemetry's, whose checks are applied here as the payload is decoded.
 */

export const DEAD_LETTER_REASONS = [
  'topic_unknown',
  'thing_id_invalid',
  'payload_too_large',
  'json_invalid',
  'non_finite_number',
  'schema_invalid',
  'timestamp_in_future',
  'timestamp_too_old',
  'text_invalid',
  'thing_create_limited',
  'thing_unknown',
  'command_rejected',
  'storage_refused',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  /** Epoch ms when this process got it: the time of readings without `ts`, and of presence. */
  receivedAt: number;
  /** Set by the broker on a retained message replayed at subscribe time (not a live one). */
  retained: boolean;
}

/** One leaf of a telemetry message: a property (or a sub-path of one) of a feature. */
export interface LeafReading {
  featureId: string;
  /** Property path inside the feature's properties, e.g. ['status', 'level']. */
  path: string[];
  value: unknown;
}

export type DeviceMessage =
  | {
      kind: 'telemetry';
      thingId: string;
      time: number;
      seq: number | null;
      leaves: LeafReading[];
      /** Each leaf's reading as the history stores it (same order), checked by telemetry's rules. */
      rows: StorableReading[];
    }
  | { kind: 'status'; thingId: string; online: boolean; time: number }
  | { kind: 'command'; thingId: string; time: number; command: DeviceCommand }
  | { kind: 'ignored'; why: string }
  | { kind: 'rejected'; reason: DeadLetterReason; message: string; thingId: string | null };

export interface ContractLimits {
  maxPayloadBytes: number;
  maxFutureSkewMs: number;
  /** Epoch ms: earlier readings are dead letters (INGEST_MIN_TIMESTAMP). */
  minTime?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseDeviceMessage(msg: InboundMessage, limits: ContractLimits): DeviceMessage {
  // Live messages reach the ingest's shared subscription too; the messages feature takes them.
  if (isMessageTopic(msg.topic)) return { kind: 'ignored', why: 'a live message (messages feature)' };
  const match = parseDeviceTopic(msg.topic);
  if (!match) {
    return reject('topic_unknown', `Topic '${msg.topic}' is not part of the device contract.`, null);
  }
  const { thingId, channel } = match;
  // PostgreSQL text cannot hold NUL or unpaired surrogates: caught here, not by a failing batch.
  if (!storableText(msg.topic)) {
    return reject('text_invalid', 'The topic holds NUL or text that cannot be stored.', null);
  }
  if (channel === 'desired') return { kind: 'ignored', why: 'the platform publishes desired state itself' };
  if (!isValidThingId(thingId)) {
    return reject('thing_id_invalid', `Thing ID '${thingId}' is not valid: <namespace>:<name>.`, null);
  }
  if (msg.payload.length > limits.maxPayloadBytes) {
    return reject(
      'payload_too_large',
      `The payload of ${msg.payload.length} bytes exceeds INGEST_MAX_PAYLOAD_BYTES (${limits.maxPayloadBytes}).`,
      thingId,
    );
  }
  let text: string;
  try {
    text = utf8.decode(msg.payload);
  } catch {
    return reject('json_invalid', 'The payload is not UTF-8 text.', thingId);
  }
  if (channel === 'status') return parseStatus(thingId, text, msg, limits);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return reject('json_invalid', `The payload is not JSON: ${(err as Error).message}`, thingId);
  }
  const shape = shapeProblem(body);
  if (shape === 'too_deep') {
    return reject('schema_invalid', `The payload nests deeper than ${MAX_JSON_DEPTH} levels.`, thingId);
  }
  if (shape === 'non_finite')
    return reject('non_finite_number', 'The payload holds a non-finite number.', thingId);
  if (shape === 'text')
    return reject('schema_invalid', 'The payload holds a NUL character or an unpaired surrogate.', thingId);
  if (channel === 'telemetry') return parseTelemetry(thingId, body, msg, limits);
  const command = parseDittoCommand(thingId, body);
  if ('problem' in command) return reject('schema_invalid', command.problem, thingId);
  return { kind: 'command', thingId, time: msg.receivedAt, command };
}

/** Depth of nested objects and arrays a device message may use; property paths are far shorter. */
export const MAX_JSON_DEPTH = 64;

/**
 * One iterative walk over the parsed payload, before anything else walks it:
 * - too deep: a 64 kB payload can nest thousands of levels, which recursive code (ours, and
 *   PostgreSQL's jsonb parser) cannot take, so its batch would fail every time;
 * - non-finite: JSON.parse turns 1e400 into Infinity, which no reading or twin value can hold.
 */
function shapeProblem(value: unknown): 'too_deep' | 'non_finite' | 'text' | undefined {
  // Two stacks rather than one of pairs: this runs on every message, and pairs are garbage.
  const nodes: unknown[] = [value];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop();
    const depth = depths.pop() as number;
    if (typeof node === 'number' && !Number.isFinite(node)) return 'non_finite';
    if (typeof node === 'string' && !storableText(node)) return 'text';
    if (node === null || typeof node !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return 'too_deep';
    if (!Array.isArray(node) && !Object.keys(node).every(storableText)) return 'text';
    for (const child of Object.values(node)) {
      nodes.push(child);
      depths.push(depth + 1);
    }
  }
  return undefined;
}

const FIELDS = new Set(['ts', 'seq', 'features']);

function parseTelemetry(
  thingId: string,
  body: unknown,
  msg: InboundMessage,
  limits: ContractLimits,
): DeviceMessage {
  if (!isJsonObject(body))
    return reject('schema_invalid', 'The telemetry payload must be a JSON object.', thingId);
  const unknown = Object.keys(body).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) {
    return reject(
      'schema_invalid',
      `Unknown field(s) ${unknown.join(', ')}: expected ts, seq, features.`,
      thingId,
    );
  }
  const time = body.ts === undefined ? msg.receivedAt : readingTime(body.ts);
  if (time === undefined) {
    return reject(
      'schema_invalid',
      `ts ${JSON.stringify(body.ts)} is neither epoch milliseconds nor an ISO 8601 instant.`,
      thingId,
    );
  }
  if (time > msg.receivedAt + limits.maxFutureSkewMs) {
    return reject(
      'timestamp_in_future',
      `ts ${iso(time)} is more than INGEST_MAX_FUTURE_SKEW_MS (${limits.maxFutureSkewMs} ms) ahead of the platform's clock.`,
      thingId,
    );
  }
  // Checked here too, as a message may carry no reading (features of no properties) to check it in.
  const seq = body.seq ?? null;
  const badSeq = seqProblem(seq);
  if (badSeq) return reject('schema_invalid', `${badSeq}.`, thingId);
  if (!isJsonObject(body.features)) {
    return reject('schema_invalid', 'features must be an object of featureId → properties.', thingId);
  }
  const leaves: LeafReading[] = [];
  for (const [featureId, properties] of Object.entries(body.features)) {
    const badFeature = featureIdProblem(featureId);
    if (badFeature) return reject('schema_invalid', `${badFeature}.`, thingId);
    if (!isJsonObject(properties)) {
      return reject('schema_invalid', `features.${featureId} must be an object of properties.`, thingId);
    }
    collectLeaves(featureId, [], properties, leaves);
  }
  // After the shape checks, so a malformed message keeps telling what is wrong with it first.
  const tooOld = timeTooOld(time, thingId, limits);
  if (tooOld) return tooOld;
  const checked = storableReadings({ thingId, ts: time, seq }, leaves);
  if ('problem' in checked) {
    const reason = checked.problem.nonFinite ? 'non_finite_number' : 'schema_invalid';
    return reject(reason, `A reading cannot be stored: ${checked.problem.message}.`, thingId);
  }
  return {
    kind: 'telemetry',
    thingId,
    time,
    seq: seq as number | null,
    leaves,
    rows: checked.rows,
  };
}

/** Nested objects are property sub-paths; everything else (arrays too) is one reading. */
function collectLeaves(
  featureId: string,
  path: string[],
  node: Record<string, unknown>,
  out: LeafReading[],
): void {
  for (const key of Object.keys(node)) {
    const value = node[key];
    const at = [...path, key];
    if (isJsonObject(value) && Object.keys(value).length > 0) collectLeaves(featureId, at, value, out);
    else out.push({ featureId, path: at, value });
  }
}

/**
 * `online`/`offline`, bare or as a JSON string, or `{"status": …, "ts": …}` for devices that
 * know their time. A retained message replayed at subscribe time is old news of unknown age,
 * so it never changes presence.
 */
function parseStatus(
  thingId: string,
  text: string,
  msg: InboundMessage,
  limits: ContractLimits,
): DeviceMessage {
  let status: unknown = text.trim();
  let time: number | undefined = msg.receivedAt;
  if (typeof status === 'string' && /^[{"]/.test(status)) {
    try {
      const body: unknown = JSON.parse(status);
      status = isJsonObject(body) ? body.status : body;
      if (isJsonObject(body) && body.ts !== undefined) time = readingTime(body.ts);
    } catch (err) {
      return reject('json_invalid', `The status payload is not JSON: ${(err as Error).message}`, thingId);
    }
  }
  if (status !== 'online' && status !== 'offline') {
    return reject(
      'schema_invalid',
      `Status ${JSON.stringify(status)} is neither online nor offline.`,
      thingId,
    );
  }
  if (time === undefined) return reject('schema_invalid', 'The status ts is not a valid time.', thingId);
  if (time > msg.receivedAt + limits.maxFutureSkewMs) {
    return reject('timestamp_in_future', 'The status ts lies in the future.', thingId);
  }
  const tooOld = timeTooOld(time, thingId, limits);
  if (tooOld) return tooOld;
  if (msg.retained) return { kind: 'ignored', why: 'a retained status replayed at subscribe time' };
  return { kind: 'status', thingId, online: status === 'online', time };
}

/** Before INGEST_MIN_TIMESTAMP: such a row would land in no partition retention ever drops. */
function timeTooOld(time: number, thingId: string, limits: ContractLimits): DeviceMessage | undefined {
  if (limits.minTime === undefined || time >= limits.minTime) return undefined;
  const shown = Number.isNaN(new Date(time).getTime()) ? String(time) : iso(time);
  return reject(
    'timestamp_too_old',
    `ts ${shown} is before INGEST_MIN_TIMESTAMP (${iso(limits.minTime)}).`,
    thingId,
  );
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function reject(reason: DeadLetterReason, message: string, thingId: string | null): DeviceMessage {
  return { kind: 'rejected', reason, message, thingId };
}
