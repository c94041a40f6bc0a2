import { isValidThingId } from './model/thing-id.js';
import { Errors } from '../common/errors.js';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { ConfigService } from '../config/config.service.js';
import { TwinEventBus } from '../journal/event-bus.js';
import { JournalService } from '../journal/journal.service.js';
import { PoliciesService } from '../policies/policies.service.js';
import { isTransientDbError, retrying } from '../persistence/retry.js';
import { TransactionRunner, type Tx } from '../persistence/transaction.js';
import { TwinBatch, type BatchWrites, type StagedOutcome } from './twin-batch.js';
import { TwinCache } from './twin-cache.js';
import type { JournalEntry } from '../journal/journal.types.js';
import type { TwinChange, TwinCommand } from './twin.types.js';
import { TwinsRepository } from './twins.repository.js';
import { WriteGate } from './write-gate.js';

export type TwinOutcome = { ok: true; change: TwinChange } | { ok: false; error: DomainError };

/** The write path inside a caller's transaction (see TwinsService.transaction). */
export interface TwinScope {
  /** For the caller's own repositories, in the same transaction. */
  tx: Tx;
  applyEach(cmds: TwinCommand[]): Promise<TwinOutcome[]>;
}

/** A concurrent transaction created a thing this batch meant to create: run the batch again. */
class CreationRace extends Error {}

const RETRIES = 5;
/** Budget of the twin cache in serialized bytes; things over the per-entry limit are not kept. */
const CACHE_BYTES = 32 * 1024 * 1024;
const CACHE_ENTRY_BYTES = 64 * 1024;

/**
 * The one write path for twins. Every entry point (REST, MQTT, WebSocket, Ditto sync) calls
 * apply, applyMany or applyEach: the changes, the revision bumps and the journal rows commit
 * in one transaction, then the entries go on the event bus. A batch costs a handful of
 * statements whatever its size: lock all its things, write them with one statement each way
 * (insert, update, delete), append the journal. Things it wrote recently are not read back
 * (see TwinCache): only their row locks and revisions are.
 */
@Injectable()
export class TwinsService {
  private readonly logger = new Logger(TwinsService.name);
  private readonly maxSize: number;
  private readonly cache = new TwinCache(CACHE_BYTES, CACHE_ENTRY_BYTES);

  constructor(
    @Inject(TwinsRepository) private readonly repo: TwinsRepository,
    @Inject(JournalService) private readonly journal: JournalService,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(TwinEventBus) private readonly bus: TwinEventBus,
    @Inject(PoliciesService) private readonly policies: PoliciesService,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.maxSize = config.get('THING_MAX_SIZE_BYTES');
  }

  async apply(cmd: TwinCommand): Promise<TwinChange> {
    const [change] = await this.applyMany([cmd]);
    return change;
  }

  /** All or nothing: the first command that fails rejects the whole batch with its error. */
  async applyMany(cmds: TwinCommand[]): Promise<TwinChange[]> {
    const outcomes = await this.run(cmds, false);
    return outcomes.map((o) => {
      if (!o.ok) throw o.error;
      return o.change;
    });
  }

  /**
   * Each command succeeds or fails on its own; the successful ones commit together. For
   * ingestion, where one device's bad reading must not hold back the others.
   */
  applyEach(cmds: TwinCommand[]): Promise<TwinOutcome[]> {
    return this.run(cmds, true);
  }

  /**
   * Runs `work` in one transaction with the twin write path available inside it, for callers
   * that must commit their own rows together with twin changes (the ingest batcher writes
   * telemetry and twins at once). Call scope.applyEach last: it appends to the journal, which
   * holds the journal lock until commit. `work` may run more than once (retries), so it must
   * not have effects outside the transaction. Events are published after commit.
   */
  transaction<T>(work: (scope: TwinScope) => Promise<T>): Promise<T> {
    return this.withRetries((tx, stage) => work({ tx, applyEach: (cmds) => stage(cmds, true) }));
  }

  private run(cmds: TwinCommand[], isolate: boolean): Promise<TwinOutcome[]> {
    return this.withRetries((_tx, stage) => stage(cmds, isolate));
  }

  private withRetries<T>(
    work: (tx: Tx, stage: (cmds: TwinCommand[], isolate: boolean) => Promise<TwinOutcome[]>) => Promise<T>,
  ): Promise<T> {
    return retrying(
      async () => {
        const committed: JournalEntry[] = [];
        const written: BatchWrites[] = [];
        let createdPolicies = false;
        const result = await this.tx.run((tx) =>
          work(tx, async (cmds, isolate) => {
            const outcomes = await this.stageAndWrite(
              tx,
              cmds,
              isolate,
              written,
              () => (createdPolicies = true),
            );
            for (const o of outcomes) if (o.ok && o.change.entry) committed.push(o.change.entry);
            return outcomes;
          }),
        );
        // Committed: these states are now what the rows hold.
        for (const w of written) {
          for (const thing of [...w.inserts, ...w.updates])
            this.cache.remember(thing, this.repo.writtenSize(thing));
          for (const id of w.deletes) this.cache.forget(id);
        }
        // Policies created with new things: this replica need not wait for its own NOTIFY.
        if (createdPolicies) this.policies.forgetChanged();
        this.bus.publish(committed);
        return result;
      },
      {
        retryable: (err, attempt) =>
          attempt < RETRIES && (err instanceof CreationRace || isTransientDbError(err)),
        onRetry: (err) =>
          this.logger.debug(
            `retrying a twin transaction after ${(err as { code?: string }).code ?? 'a creation race'}`,
          ),
      },
    );
  }

  private async stageAndWrite(
    tx: Tx,
    cmds: TwinCommand[],
    isolate: boolean,
    written: BatchWrites[],
    onPolicyCreated: () => void,
  ): Promise<TwinOutcome[]> {
    // An id the database cannot even look up (NUL, lone surrogate) fails its command alone;
    // it must not fail the lookups, and with them the batch, of everyone else.
    const refused = refusedIds(cmds);
    if (refused.size > 0 && !isolate) throw Errors.thingIdInvalid([...refused][0]);
    const valid = refused.size > 0 ? cmds.filter((c) => !refused.has(c.thingId)) : cmds;
    const ids = [...new Set(valid.map((c) => c.thingId))].sort();
    const current = await this.repo.lockMany(tx, ids, this.cache.snapshot(ids));
    const found = new Set(current.map((t) => t.thingId));
    const lastRevisions = await this.journal.lastRevisions(
      tx,
      ids.filter((id) => !found.has(id)),
    );
    // One time for the whole batch: its changes commit together, and a clock read per command
    // costs more than the rest of a telemetry merge.
    const now = new Date().toISOString();
    const batch = new TwinBatch(current, lastRevisions, ids, { maxSize: this.maxSize, now: () => now });
    const gate = await WriteGate.open(this.policies, tx, valid, current);
    const staged: StagedOutcome[] = [];
    for (const cmd of cmds) {
      if (refused.has(cmd.thingId)) {
        staged.push({ ok: false, error: Errors.thingIdInvalid(cmd.thingId) });
        continue;
      }
      const outcome = batch.apply(cmd, gate?.check(cmd));
      if (!outcome.ok && !isolate) throw outcome.error;
      if (gate && outcome.ok && outcome.change.journal?.action === 'created' && cmd.path.length === 0) {
        if (await gate.created(cmd, outcome.change.thing!)) onPolicyCreated();
      }
      staged.push(outcome);
    }
    const writes = batch.writes();
    written.push(writes);
    const inserted = await this.repo.insertMany(tx, writes.inserts);
    if (inserted.size < writes.inserts.length) throw new CreationRace();
    await this.repo.updateMany(tx, writes.updates);
    await this.repo.removeMany(tx, writes.deletes);
    // The policies created with new things are journaled after them, in the same append.
    const entries = await this.journal.append(tx, [
      ...staged.flatMap((o) => (o.ok && o.change.journal ? [o.change.journal] : [])),
      ...(gate?.journal() ?? []),
    ]);
    let next = 0;
    return staged.map((o) => {
      if (!o.ok) return o;
      const { journal, ...change } = o.change;
      return { ok: true, change: { ...change, entry: journal ? entries[next++] : null } };
    });
  }
}

function refusedIds(cmds: readonly TwinCommand[]): Set<string> {
  const out = new Set<string>();
  for (const c of cmds) if (!isValidThingId(c.thingId)) out.add(c.thingId);
  return out;
}
