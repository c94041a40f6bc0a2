import { randomUUID } from 'node:crypto';
import { DomainError } from '../common/domain-error.js';
import type { NewJournalEntry } from '../journal/journal.types.js';
import { toPointer } from './model/json-pointer.js';
import { computeChange } from './twin-change.js';
import type { StoredThing, TwinChange, TwinCommand } from './twin.types.js';

export type StagedChange = Omit<TwinChange, 'entry'> & { journal: NewJournalEntry | null };
export type StagedOutcome = { ok: true; change: StagedChange } | { ok: false; error: DomainError };

/** What the batch has to write: each touched thing's state before and after. */
export interface BatchWrites {
  inserts: StoredThing[];
  updates: StoredThing[];
  deletes: string[];
}

/**
 * Applies commands, in order, to the locked current state in memory. Pure: the service loads the
 * state, calls this, then writes `writes()` and the journal entries in the same transaction.
 * A command that fails with a client error leaves the state as it was for the next command.
 */
export class TwinBatch {
  private readonly state = new Map<string, { thing: StoredThing | null; revision: number }>();
  private readonly before = new Map<string, StoredThing | null>();

  constructor(
    current: StoredThing[],
    lastRevisions: Map<string, number>,
    thingIds: string[],
    private readonly opts: { maxSize: number; now: () => string },
  ) {
    const byId = new Map(current.map((t) => [t.thingId, t]));
    for (const id of thingIds) {
      const thing = byId.get(id) ?? null;
      this.before.set(id, thing);
      // A deleted thing's revisions continue when it is created again.
      this.state.set(id, { thing, revision: thing?.revision ?? lastRevisions.get(id) ?? 0 });
    }
  }

  /** `check` vets the command against the thing as the batch has it (authorization). */
  apply(cmd: TwinCommand, check?: (current: StoredThing | null) => DomainError | undefined): StagedOutcome {
    const state = this.state.get(cmd.thingId);
    if (!state) throw new Error(`thing ${cmd.thingId} was not loaded for this batch`);
    const denied = check?.(state.thing);
    if (denied) return { ok: false, error: denied };
    const now = this.opts.now();
    let computed;
    try {
      computed = computeChange(state.thing, cmd, {
        now,
        maxSize: this.opts.maxSize,
        nextRevision: state.revision + 1,
      });
    } catch (err) {
      if (err instanceof DomainError) return { ok: false, error: err };
      throw err;
    }
    if (computed.noop) {
      // Every leaf was older than what is stored: nothing changes, no revision, no event.
      return { ok: true, change: { status: 204, thing: state.thing, value: computed.value, journal: null } };
    }
    const revision = state.revision + 1;
    this.state.set(cmd.thingId, { thing: computed.next, revision });
    return {
      ok: true,
      change: {
        status: computed.status,
        thing: computed.next,
        value: computed.value,
        journal: {
          thingId: cmd.thingId,
          policyId: (computed.next ?? state.thing)?.doc.policyId,
          revision,
          action: computed.action,
          path: toPointer(cmd.path),
          value: computed.journalValue,
          leafTimes: computed.leafTimes,
          timestamp: now,
          origin: cmd.origin,
          correlationId: cmd.correlationId ?? randomUUID(),
        },
      },
    };
  }

  writes(): BatchWrites {
    const writes: BatchWrites = { inserts: [], updates: [], deletes: [] };
    for (const [id, { thing }] of this.state) {
      const before = this.before.get(id);
      if (thing && !before) writes.inserts.push(thing);
      else if (thing && before && thing !== before) writes.updates.push(thing);
      else if (!thing && before) writes.deletes.push(id);
    }
    return writes;
  }
}
