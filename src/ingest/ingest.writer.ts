import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { devicePolicyId } from './device-policy.js';
import type { StorableReading } from '../telemetry/reading.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';
import { parseFieldSelector } from '../twins/model/fields.js';
import type { TwinCommand } from '../twins/twin.types.js';
import { TwinsQueryService } from '../twins/twins-query.service.js';
import { TwinsService } from '../twins/twins.service.js';
import { leafCount, twinCommands, type QueuedCommand, type TimedLeaf } from './batch-plan.js';
import {
  parseDeviceMessage,
  type DeadLetterReason,
  type DeviceMessage,
  type InboundMessage,
} from './device-contract.js';
import { CreationBudget } from './creation-budget.js';
import { IngestRepository, type NewDeadLetter, type PresenceRow } from './ingest.repository.js';
import { decidePresence, PresenceMemory, type PresenceEvent } from './presence.js';

export interface BatchOutcome {
  newReadings: number;
  duplicates: number;
  stale: number;
  twinChanges: number;
  deadLetters: DeadLetterReason[];
  presence: PresenceRow[];
  /** Messages with nothing to store (desired state echoed back, a retained status replayed). */
  ignored: number;
}

/** A batch that stored nothing: the start of a sum of outcomes. */
export const NO_OUTCOME: BatchOutcome = {
  newReadings: 0,
  duplicates: 0,
  stale: 0,
  twinChanges: 0,
  deadLetters: [],
  presence: [],
  ignored: 0,
};

type Accepted = Exclude<DeviceMessage, { kind: 'ignored' } | { kind: 'rejected' }>;

const ID_ONLY = parseFieldSelector('thingId');

/**
 * Commits one batch of MQTT messages in one transaction: dead letters, presence, new readings
 * into history, then one twin merge per thing (newest value per leaf, with leaf times) and the
 * devices' Ditto commands, journaled last. Only what this transaction commits is acknowledged.
 */
@Injectable()
export class IngestWriter {
  readonly memory: PresenceMemory;
  private readonly limits: { maxPayloadBytes: number; maxFutureSkewMs: number; minTime: number };
  private readonly autoCreate: boolean;
  /** AUTO_CREATE_PER_MINUTE: things devices may still create in the current minute. */
  private readonly creations: CreationBudget;
  /**
   * Things known to exist, so a batch asks the database only about ids it has not seen: with
   * AUTO_CREATE_THINGS every batch must tell new things (which spend the budget) from known ones.
   */
  private readonly known = new Set<string>();
  /** What things created by devices link: the platform's device policy. */
  private readonly devicePolicy: { policyId: string };

  constructor(
    @Inject(TwinsService) private readonly twins: TwinsService,
    @Inject(TwinsQueryService) private readonly query: TwinsQueryService,
    @Inject(TelemetryService) private readonly telemetry: TelemetryService,
    @Inject(IngestRepository) private readonly repo: IngestRepository,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.limits = {
      maxPayloadBytes: config.get('INGEST_MAX_PAYLOAD_BYTES'),
      maxFutureSkewMs: config.get('INGEST_MAX_FUTURE_SKEW_MS'),
      minTime: config.get('INGEST_MIN_TIMESTAMP'),
    };
    this.creations = new CreationBudget(config.get('AUTO_CREATE_PER_MINUTE'));
    this.autoCreate = config.get('AUTO_CREATE_THINGS');
    this.devicePolicy = { policyId: devicePolicyId(config) };
    const timeoutMs = config.get('DEVICE_INACTIVITY_TIMEOUT') * 1000;
    this.memory = new PresenceMemory(timeoutMs > 0 ? Math.min(timeoutMs / 4, 30_000) : 30_000);
  }

  /**
   * `onTwinPhase` is called when the batch's own rows are written and its twin changes begin
   * (again on a retry): from there on it waits for, then holds, the row locks of its things.
   */
  async commit(messages: InboundMessage[], onTwinPhase?: () => void): Promise<BatchOutcome> {
    const dead: NewDeadLetter[] = [];
    const letter = (msg: InboundMessage, reason: DeadLetterReason, message: string, thingId: string | null) =>
      dead.push({
        receivedAt: msg.receivedAt,
        topic: msg.topic,
        reason,
        message,
        // An oversized payload is kept only up to the limit: the dead letter must not be the problem.
        payload: msg.payload.subarray(0, this.limits.maxPayloadBytes),
        thingId,
      });

    const accepted: { msg: InboundMessage; parsed: Accepted }[] = [];
    let ignored = 0;
    for (const msg of messages) {
      const parsed = parseDeviceMessage(msg, this.limits);
      if (parsed.kind === 'ignored') {
        ignored++;
        continue;
      }
      if (parsed.kind === 'rejected') {
        letter(msg, parsed.reason, parsed.message, parsed.thingId);
        continue;
      }
      accepted.push({ msg, parsed });
    }

    const unknown = await this.unknownThings(accepted.map((a) => a.parsed.thingId));
    // New things within this minute's budget may be created; the rest are refused below. A thing
    // another batch already counted (still committing, or retried) costs nothing again.
    const creatable = new Set<string>();
    if (this.autoCreate) for (const id of unknown) if (this.creations.take(id)) creatable.add(id);
    const kept = accepted.filter((a) => {
      const id = a.parsed.thingId;
      if (!unknown.has(id) || creatable.has(id)) return true;
      if (this.autoCreate) {
        const why = `The Thing '${id}' does not exist and devices have created AUTO_CREATE_PER_MINUTE things this minute.`;
        letter(a.msg, 'thing_create_limited', why, id);
      } else {
        letter(
          a.msg,
          'thing_unknown',
          `The Thing '${id}' does not exist and AUTO_CREATE_THINGS is false.`,
          id,
        );
      }
      return false;
    });

    // parseDeviceMessage has made every reading's row with telemetry's own rules; the twin leaf
    // of each goes with it, at the same position.
    const readings: StorableReading[] = [];
    const readingLeaves: TimedLeaf[] = [];
    const commands: (QueuedCommand & { msg: InboundMessage })[] = [];
    const events: PresenceEvent[] = [];
    // The messages behind each thing's merge. Only these few references outlive this loop, so the
    // parsed payloads can go while the batch waits on the database.
    const dataSources: { thingId: string; msg: InboundMessage }[] = [];
    for (const { msg, parsed } of kept) {
      if (parsed.kind === 'telemetry') addReadings(parsed, readings, readingLeaves);
      if (parsed.kind === 'command') commands.push({ thingId: parsed.thingId, command: parsed.command, msg });
      else dataSources.push({ thingId: parsed.thingId, msg });
      events.push({
        thingId: parsed.thingId,
        online: parsed.kind === 'status' ? parsed.online : true,
        time: parsed.time,
        explicit: parsed.kind === 'status',
        receivedAt: msg.receivedAt,
      });
    }

    // May run more than once (retries): it only touches the transaction and local values.
    return this.twins.transaction(async (scope) => {
      const { tx } = scope;
      const rejected: NewDeadLetter[] = [];
      await this.repo.insertDeadLetters(tx, dead);
      const due = events.filter((e) => this.memory.needsWrite(e));
      const stored = await this.repo.lockPresence(tx, [...new Set(due.map((e) => e.thingId))].sort());
      const presence = decidePresence(due, new Map(stored.map((r) => [r.thingId, r])));
      await this.repo.writePresence(tx, presence.rows);
      const fresh = await this.telemetry.insertRows(tx, readings);
      const leaves = fresh.map((i) => readingLeaves[i]);
      const cmds = twinCommands(
        [...leaves, ...presence.leaves],
        commands,
        this.autoCreate && this.devicePolicy,
      );
      onTwinPhase?.();
      const outcomes = await scope.applyEach(cmds);
      let stale = 0;
      let twinChanges = 0;
      outcomes.forEach((o, i) => {
        const cmd = cmds[i];
        if (o.ok) {
          if (o.change.entry) twinChanges++;
          if (cmd.type === 'merge' && cmd.leafTimes && o.change.entry?.action !== 'created') {
            stale += leafCount(cmd.value) - (o.change.entry ? leafCount(o.change.entry.value) : 0);
          }
          return;
        }
        const why = `${o.error.code}: ${o.error.message}`;
        for (const msg of sourcesOf(cmd, i, cmds.length - commands.length, dataSources, commands)) {
          rejected.push({
            ...deadOf(msg, this.limits.maxPayloadBytes),
            reason: 'command_rejected',
            message: why,
          });
        }
      });
      // After the journal append, which should come last; refusals are rare and must commit with the batch.
      await this.repo.insertDeadLetters(tx, rejected);
      return {
        newReadings: fresh.length,
        duplicates: readings.length - fresh.length,
        stale,
        twinChanges,
        deadLetters: [...dead, ...rejected].map((d) => d.reason),
        presence: presence.rows,
        ignored,
      };
    });
  }

  /**
   * A message the database refused to store even alone (see the batcher's isolation of a
   * failing batch): a dead letter with the database's reason, committed on its own.
   */
  async refuse(msg: InboundMessage, err: unknown): Promise<BatchOutcome> {
    const message = `The database refused what this message carries: ${err instanceof Error ? err.message : String(err)}`;
    const letter: NewDeadLetter = {
      ...deadOf(msg, this.limits.maxPayloadBytes),
      reason: 'storage_refused',
      message,
    };
    await this.twins.transaction(({ tx }) => this.repo.insertDeadLetters(tx, [letter]));
    return { ...NO_OUTCOME, deadLetters: ['storage_refused'] };
  }

  /** Which of the things do not exist (as far as this process can tell: see `known`). */
  private async unknownThings(ids: string[]): Promise<Set<string>> {
    // Without AUTO_CREATE_THINGS every batch asks: a thing deleted meanwhile must be thing_unknown.
    const wanted = [...new Set(ids)].filter((id) => !(this.autoCreate && this.known.has(id)));
    if (wanted.length === 0) return new Set();
    const found = await this.query.getMany(wanted, ID_ONLY);
    const present = new Set(found.map((t) => t.thingId as string));
    // Bounded: past the cap it starts over, costing one lookup per thing again.
    if (this.known.size + present.size > KNOWN_MAX) this.known.clear();
    for (const id of present) this.known.add(id);
    return new Set(wanted.filter((id) => !present.has(id)));
  }
}

const KNOWN_MAX = 1_000_000;

/**
 * A fixed window of one minute: at most `perMinute` creations in each. Coarse, but what the
 * bound is for (one client creating thousands of twins in seconds) it stops, and it is cheap.
 */
function addReadings(
  m: Extract<DeviceMessage, { kind: 'telemetry' }>,
  readings: StorableReading[],
  leaves: TimedLeaf[],
): void {
  m.leaves.forEach((l, i) => {
    const row = m.rows[i];
    readings.push(row);
    leaves.push({
      thingId: m.thingId,
      path: ['features', l.featureId, 'properties', ...l.path],
      value: l.value,
      time: m.time,
      seq: m.seq,
      at: row.ts,
    });
  });
}

/** The messages behind a refused command: all of the thing's data messages, or the one command. */
function sourcesOf(
  cmd: TwinCommand,
  index: number,
  merges: number,
  dataSources: { thingId: string; msg: InboundMessage }[],
  commands: { msg: InboundMessage }[],
): InboundMessage[] {
  if (index >= merges) return [commands[index - merges].msg];
  return dataSources.filter((d) => d.thingId === cmd.thingId).map((d) => d.msg);
}

function deadOf(msg: InboundMessage, maxBytes: number): Omit<NewDeadLetter, 'reason' | 'message'> {
  const thingId = /^things\/([^/]+)\//.exec(msg.topic)?.[1] ?? null;
  return {
    receivedAt: msg.receivedAt,
    topic: msg.topic,
    payload: msg.payload.subarray(0, maxBytes),
    thingId,
  };
}
