import { parseDeviceTopic } from '../protocol/device-topics.js';
import type { StorableReading } from '../telemetry/reading.js';
import type { TwinCommand } from '../twins/twin.types.js';
import type { TwinOutcome } from '../twins/twins.service.js';
import { leafCount, type QueuedCommand, type TimedLeaf } from './batch-plan.js';
import {
  parseDeviceMessage,
  type ContractLimits,
  type DeviceMessage,
  type InboundMessage,
} from './device-contract.js';
import type { NewDeadLetter } from './ingest.repository.js';
import type { PresenceEvent } from './presence.js';

/**
 * The pure steps of committing a batch of device messages (see IngestWriter): parse, decide what
 * each accepted message stores, and map the twin service's refusals back to the messages behind
 * them. The writer adds what needs the database: which things exist, then the transaction.
 */

type Accepted = Exclude<DeviceMessage, { kind: 'ignored' } | { kind: 'rejected' }>;

export interface ParsedBatch {
  accepted: { msg: InboundMessage; parsed: Accepted }[];
  dead: NewDeadLetter[];
  /** Messages with nothing to store (desired state echoed back, a live message). */
  ignored: number;
}

export function parseBatch(messages: readonly InboundMessage[], limits: ContractLimits): ParsedBatch {
  const batch: ParsedBatch = { accepted: [], dead: [], ignored: 0 };
  for (const msg of messages) {
    const parsed = parseDeviceMessage(msg, limits);
    if (parsed.kind === 'ignored') batch.ignored++;
    else if (parsed.kind === 'rejected')
      batch.dead.push({
        ...deadOf(msg, limits.maxPayloadBytes),
        reason: parsed.reason,
        message: parsed.message,
        // The contract's word: null when the topic's id is not one (it may not even be storable).
        thingId: parsed.thingId,
      });
    else batch.accepted.push({ msg, parsed });
  }
  return batch;
}

/** What the database said about the batch's things, and what the writer's budget allows. */
export interface ThingsKnown {
  /** Things that do not exist. */
  unknown: ReadonlySet<string>;
  /** Of those, the ones devices may create now (AUTO_CREATE_THINGS and its per-minute budget). */
  creatable: ReadonlySet<string>;
  autoCreate: boolean;
}

export interface BatchPlan {
  dead: NewDeadLetter[];
  ignored: number;
  /** History rows, and the twin leaf of each at the same position. */
  readings: StorableReading[];
  readingLeaves: TimedLeaf[];
  commands: (QueuedCommand & { msg: InboundMessage })[];
  presence: PresenceEvent[];
  /** The data messages behind each thing's merge, to dead-letter them if the merge is refused. */
  dataSources: { thingId: string; msg: InboundMessage }[];
}

export function planBatch(batch: ParsedBatch, things: ThingsKnown, maxPayloadBytes: number): BatchPlan {
  const plan: BatchPlan = {
    dead: [...batch.dead],
    ignored: batch.ignored,
    readings: [],
    readingLeaves: [],
    commands: [],
    presence: [],
    dataSources: [],
  };
  for (const { msg, parsed } of batch.accepted) {
    const id = parsed.thingId;
    if (things.unknown.has(id) && !things.creatable.has(id)) {
      const message = things.autoCreate
        ? `The Thing '${id}' does not exist and devices have created AUTO_CREATE_PER_MINUTE things this minute.`
        : `The Thing '${id}' does not exist and AUTO_CREATE_THINGS is false.`;
      const reason = things.autoCreate ? 'thing_create_limited' : 'thing_unknown';
      plan.dead.push({ ...deadOf(msg, maxPayloadBytes), reason, message, thingId: id });
      continue;
    }
    if (parsed.kind === 'telemetry') addReadings(parsed, plan);
    if (parsed.kind === 'command') plan.commands.push({ thingId: id, command: parsed.command, msg });
    else plan.dataSources.push({ thingId: id, msg });
    plan.presence.push({
      thingId: id,
      online: parsed.kind === 'status' ? parsed.online : true,
      time: parsed.time,
      explicit: parsed.kind === 'status',
      receivedAt: msg.receivedAt,
    });
  }
  return plan;
}

function addReadings(m: Extract<DeviceMessage, { kind: 'telemetry' }>, plan: BatchPlan): void {
  m.leaves.forEach((l, i) => {
    const row = m.rows[i];
    plan.readings.push(row);
    plan.readingLeaves.push({
      thingId: m.thingId,
      path: ['features', l.featureId, 'properties', ...l.path],
      value: l.value,
      time: m.time,
      seq: m.seq,
      at: row.ts,
    });
  });
}

export interface TwinResults {
  /** Each refused command's messages, as dead letters. */
  rejected: NewDeadLetter[];
  /** Leaves left out because the twin held newer values. */
  stale: number;
  twinChanges: number;
}

/**
 * What the twin service's outcomes mean for the batch. `cmds` are the merges (one per thing, made
 * from the plan's readings and presence) followed by the plan's commands, in order.
 */
export function twinResults(
  outcomes: readonly TwinOutcome[],
  cmds: readonly TwinCommand[],
  plan: Pick<BatchPlan, 'commands' | 'dataSources'>,
  maxPayloadBytes: number,
): TwinResults {
  const results: TwinResults = { rejected: [], stale: 0, twinChanges: 0 };
  const merges = cmds.length - plan.commands.length;
  outcomes.forEach((o, i) => {
    const cmd = cmds[i];
    if (o.ok) {
      if (o.change.entry) results.twinChanges++;
      if (cmd.type === 'merge' && cmd.leafTimes && o.change.entry?.action !== 'created') {
        results.stale += leafCount(cmd.value) - (o.change.entry ? leafCount(o.change.entry.value) : 0);
      }
      return;
    }
    const message = `${o.error.code}: ${o.error.message}`;
    // A refused merge: all of the thing's data messages; a refused command: that one message.
    const sources =
      i >= merges
        ? [plan.commands[i - merges].msg]
        : plan.dataSources.filter((d) => d.thingId === cmd.thingId).map((d) => d.msg);
    for (const msg of sources) {
      results.rejected.push({ ...deadOf(msg, maxPayloadBytes), reason: 'command_rejected', message });
    }
  });
  return results;
}

/** A dead letter's fields from its message: the payload only up to the limit, so it is never the problem. */
export function deadOf(msg: InboundMessage, maxBytes: number): Omit<NewDeadLetter, 'reason' | 'message'> {
  return {
    receivedAt: msg.receivedAt,
    topic: msg.topic,
    payload: msg.payload.subarray(0, maxBytes),
    thingId: parseDeviceTopic(msg.topic)?.thingId ?? null,
  };
}
