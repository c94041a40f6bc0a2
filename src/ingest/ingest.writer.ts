import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { devicePolicyId } from './device-policy.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';
import { parseFieldSelector } from '../twins/model/fields.js';
import { TwinsQueryService } from '../twins/twins-query.service.js';
import { TwinsService } from '../twins/twins.service.js';
import { twinCommands } from './batch-plan.js';
import type { DeadLetterReason, InboundMessage } from './device-contract.js';
import { CreationBudget } from './creation-budget.js';
import { deadOf, parseBatch, planBatch, twinResults, type BatchPlan } from './ingest-plan.js';
import { IngestRepository, type NewDeadLetter, type PresenceRow } from './ingest.repository.js';
import { decidePresence, PresenceMemory } from './presence.js';

export interface BatchOutcome {
  newReadings: number;
  duplicates: number;
  stale: number;
  twinChanges: number;
  deadLetters: DeadLetterReason[];
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
  ignored: 0,
};

const ID_ONLY = parseFieldSelector('thingId');

/**
 * Commits one batch of MQTT messages in one transaction: dead letters, presence, new readings
 * into history, then one twin merge per thing (newest value per leaf, with leaf times) and the
 * devices' Ditto commands, journaled last. Only what this transaction commits is acknowledged.
 * What each message stores is decided in ingest-plan.ts; this adds the database.
 */
@Injectable()
export class IngestWriter {
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
    @Inject(PresenceMemory) private readonly memory: PresenceMemory,
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
  }

  /**
   * `onTwinPhase` is called when the batch's own rows are written and its twin changes begin
   * (again on a retry): from there on it waits for, then holds, the row locks of its things.
   */
  async commit(messages: InboundMessage[], onTwinPhase?: () => void): Promise<BatchOutcome> {
    const parsed = parseBatch(messages, this.limits);
    const unknown = await this.unknownThings(parsed.accepted.map((a) => a.parsed.thingId));
    // New things within this minute's budget may be created; the rest are refused. A thing
    // another batch already counted (still committing, or retried) costs nothing again.
    const creatable = new Set<string>();
    if (this.autoCreate) for (const id of unknown) if (this.creations.take(id)) creatable.add(id);
    const plan = planBatch(
      parsed,
      { unknown, creatable, autoCreate: this.autoCreate },
      this.limits.maxPayloadBytes,
    );
    const { outcome, presence } = await this.store(plan, onTwinPhase);
    // Committed: what the table now holds.
    this.memory.remember(presence, Date.now());
    return outcome;
  }

  /** Dead letters, presence, new readings into history, then the twins, journaled last. */
  private store(
    plan: BatchPlan,
    onTwinPhase?: () => void,
  ): Promise<{ outcome: BatchOutcome; presence: PresenceRow[] }> {
    // May run more than once (retries): it only touches the transaction and local values.
    return this.twins.transaction(async (scope) => {
      const { tx } = scope;
      await this.repo.insertDeadLetters(tx, plan.dead);
      const due = plan.presence.filter((e) => this.memory.needsWrite(e));
      const stored = await this.repo.lockPresence(tx, [...new Set(due.map((e) => e.thingId))].sort());
      const presence = decidePresence(due, new Map(stored.map((r) => [r.thingId, r])));
      await this.repo.writePresence(tx, presence.rows);
      const fresh = await this.telemetry.insertRows(tx, plan.readings);
      const leaves = fresh.map((i) => plan.readingLeaves[i]);
      const cmds = twinCommands(
        [...leaves, ...presence.leaves],
        plan.commands,
        this.autoCreate && this.devicePolicy,
      );
      onTwinPhase?.();
      const outcomes = await scope.applyEach(cmds);
      const results = twinResults(outcomes, cmds, plan, this.limits.maxPayloadBytes);
      // After the journal append, which should come last; refusals are rare and must commit with the batch.
      await this.repo.insertDeadLetters(tx, results.rejected);
      const outcome: BatchOutcome = {
        newReadings: fresh.length,
        duplicates: plan.readings.length - fresh.length,
        stale: results.stale,
        twinChanges: results.twinChanges,
        deadLetters: [...plan.dead, ...results.rejected].map((d) => d.reason),
        ignored: plan.ignored,
      };
      return { outcome, presence: presence.rows };
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
