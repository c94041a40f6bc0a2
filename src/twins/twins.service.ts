import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { TwinEventBus } from '../journal/event-bus.js';
import { JournalService } from '../journal/journal.service.js';
import type { JournalEntry, NewJournalEntry } from '../journal/journal.types.js';
import { TransactionRunner, type Tx } from '../persistence/transaction.js';
import { toPointer } from './model/json-pointer.js';
import { computeChange } from './twin-change.js';
import type { StoredThing, TwinChange, TwinCommand } from './twin.types.js';
import { TwinsRepository } from './twins.repository.js';

/** What this transaction has made of each thing it touched so far. */
type Staged = Map<string, { thing: StoredThing | null; revision: number }>;

/**
 * The one write path for twins. Every entry point (REST, MQTT, WebSocket, Ditto sync) calls
 * apply/applyMany: the change, the revision bump and the journal row commit together, then
 * the entries go on the event bus.
 */
@Injectable()
export class TwinsService {
  private readonly maxSize: number;

  constructor(
    @Inject(TwinsRepository) private readonly repo: TwinsRepository,
    @Inject(JournalService) private readonly journal: JournalService,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(TwinEventBus) private readonly bus: TwinEventBus,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.maxSize = config.get('THING_MAX_SIZE_BYTES');
  }

  async apply(cmd: TwinCommand): Promise<TwinChange> {
    const [change] = await this.applyMany([cmd]);
    return change;
  }

  /**
   * Applies the commands in order in one transaction: all of them commit or none does.
   * Commands for the same thing see each other's results.
   */
  async applyMany(cmds: TwinCommand[]): Promise<TwinChange[]> {
    const changes = await this.tx.run(async (tx) => {
      const staged: Staged = new Map();
      const pending: Omit<TwinChange, 'entry'>[] = [];
      const entries: NewJournalEntry[] = [];
      for (const cmd of cmds) {
        const { change, entry } = await this.stage(tx, cmd, staged);
        pending.push(change);
        entries.push(entry);
      }
      const written = await this.journal.append(tx, entries);
      return pending.map((c, i) => ({ ...c, entry: written[i] }));
    });
    this.bus.publish(changes.map((c) => c.entry));
    return changes;
  }

  private async stage(
    tx: Tx,
    cmd: TwinCommand,
    staged: Staged,
  ): Promise<{ change: Omit<TwinChange, 'entry'>; entry: NewJournalEntry }> {
    const now = new Date().toISOString();
    let state = staged.get(cmd.thingId);
    if (!state) {
      const thing = await this.repo.lockForUpdate(tx, cmd.thingId);
      // A deleted thing's revisions continue when it is created again.
      state = { thing, revision: thing ? thing.revision : await this.journal.lastRevision(tx, cmd.thingId) };
    }
    const current = state.thing;
    const nextRevision = state.revision + 1;
    const computed = computeChange(current, cmd, { now, maxSize: this.maxSize, nextRevision });
    const next = computed.next;

    if (!current && next) {
      if (!(await this.repo.insert(tx, next))) {
        // Another transaction created it between our lock attempt and insert: lock and redo.
        const raced = await this.repo.lockForUpdate(tx, cmd.thingId);
        staged.set(cmd.thingId, { thing: raced, revision: raced?.revision ?? state.revision });
        return this.stage(tx, cmd, staged);
      }
    } else if (current && next) {
      await this.repo.update(tx, next);
    } else if (current) {
      await this.repo.remove(tx, cmd.thingId);
    }
    staged.set(cmd.thingId, { thing: next, revision: nextRevision });

    return {
      change: { status: computed.status, thing: next, value: computed.value },
      entry: {
        thingId: cmd.thingId,
        revision: nextRevision,
        action: computed.action,
        path: toPointer(cmd.path),
        value: computed.journalValue,
        timestamp: now,
        origin: cmd.origin,
        correlationId: cmd.correlationId ?? randomUUID(),
      },
    };
  }

  /** For readers that follow the journal (realtime, sync). */
  readJournalAfter(seq: string, limit?: number): Promise<JournalEntry[]> {
    return this.journal.readAfter(seq, limit);
  }
}
