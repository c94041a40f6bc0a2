import { regularFields } from '../twins/model/thing-fields.js';
import { Inject, Injectable } from '@nestjs/common';
import { JournalService } from '../journal/journal.service.js';
import type { JournalEntry } from '../journal/journal.types.js';
import { deleteAt, isJsonObject, setAt, type JsonObject } from '../twins/model/json-pointer.js';
import { mergePatchAt } from '../twins/model/merge-patch.js';
import { parseFields } from '../twins/thing-view.js';
import { TwinsQueryService } from '../twins/twins-query.service.js';
import { twinEvent } from './twin-event.js';

/** A thing as `fields` selects from it: document plus system fields; null once deleted. */
export type ThingState = JsonObject | null;

export interface Known {
  revision: number;
  state: ThingState;
}

const ALL_FIELDS = parseFields(
  'thingId,policyId,definition,attributes,features,_namespace,_revision,_created,_modified',
)!;
// Counts, not bytes: states share structure, but a thing may be up to THING_MAX_SIZE_BYTES.
const MAX_THINGS = 5_000;
/** Enough for the sessions that ask about the same feed pages one after the other. */
const MAX_SEQS = 2_000;
/** Longest history replayed to rebuild a past state; beyond it the newest state stands in. */
const MAX_REPLAY = 5_000;

/**
 * The state of each thing right after each journal entry, for `extraFields`. Sessions that ask for
 * the same entries share the work: states are derived by applying each entry to the state before
 * it (no query), and the database is read once per batch only for things not seen yet. When a
 * session asks about an entry older than what is known (a replay), the newest known state stands
 * in for it. Calls are serialised, so a second session asking for a batch finds it memoised.
 */
@Injectable()
export class ThingStates {
  private readonly byThing = new Map<string, Known>();
  private readonly bySeq = new Map<string, ThingState>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(TwinsQueryService) private readonly query: TwinsQueryService,
    @Inject(JournalService) private readonly journal: JournalService,
  ) {}

  after(entries: readonly JournalEntry[]): Promise<Map<string, ThingState>> {
    const run = this.queue.then(() => this.compute(entries));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async compute(entries: readonly JournalEntry[]): Promise<Map<string, ThingState>> {
    const result = new Map<string, ThingState>();
    const todo = entries.filter((e) => {
      // A policy id may equal a thing id: a policy change must never pass for a state of the thing.
      if (e.entity === 'policy') return false;
      const memo = this.bySeq.get(e.seq);
      if (memo !== undefined) result.set(e.seq, memo);
      return memo === undefined;
    });
    if (todo.length === 0) return result;
    const unknown = this.unknownThings(todo);
    const fromDb = await this.load(unknown);
    const past = await this.statesBefore(todo, unknown, fromDb);
    for (const e of todo) {
      const next = this.advance(e, this.byThing.get(e.thingId) ?? past.get(e.thingId), fromDb);
      this.remember(e, next);
      result.set(e.seq, next.state);
    }
    return result;
  }

  /** Things whose state before one of the entries cannot be derived from what is known. */
  private unknownThings(entries: JournalEntry[]): string[] {
    const known = new Map<string, Known | undefined>();
    const unknown = new Set<string>();
    for (const e of entries) {
      if (unknown.has(e.thingId)) continue;
      const before = known.has(e.thingId) ? known.get(e.thingId) : this.byThing.get(e.thingId);
      const next = derive(e, before);
      if (next) known.set(e.thingId, next);
      else unknown.add(e.thingId);
    }
    return [...unknown];
  }

  private advance(e: JournalEntry, before: Known | undefined, fromDb: Map<string, Known>): Known {
    const derived = derive(e, before);
    if (derived) return derived;
    // The database is at least as new as any committed entry; missing means deleted since.
    return fromDb.get(e.thingId) ?? { revision: e.revision, state: null };
  }

  private async load(thingIds: string[]): Promise<Map<string, Known>> {
    const found = new Map<string, Known>();
    if (thingIds.length === 0) return found;
    for (const view of await this.query.getMany(thingIds, ALL_FIELDS)) {
      found.set(String(view.thingId), { revision: Number(view._revision), state: view });
    }
    return found;
  }

  /**
   * For things the database shows moved on since the first entry asked about, or deleted since
   * (the entry was committed, then more changes, before this ran), the state just before that
   * entry, rebuilt from the thing's journal: extra fields must show the thing as it was after
   * each change.
   */
  private async statesBefore(
    entries: JournalEntry[],
    unknown: string[],
    fromDb: Map<string, Known>,
  ): Promise<Map<string, Known>> {
    const first = new Map<string, number>();
    for (const e of entries) if (!first.has(e.thingId)) first.set(e.thingId, e.revision);
    const out = new Map<string, Known>();
    for (const thingId of unknown) {
      const revision = first.get(thingId);
      const current = fromDb.get(thingId);
      if (revision === undefined || (current && current.revision <= revision) || revision - 1 > MAX_REPLAY) {
        continue;
      }
      let known: Known | undefined;
      for (const e of await this.journal.readThing(thingId, 1, revision - 1)) {
        if (e.revision >= revision) break;
        known = derive(e, known);
        if (!known) break;
      }
      if (known?.revision === revision - 1) out.set(thingId, known);
    }
    return out;
  }

  private remember(e: JournalEntry, next: Known): void {
    const current = this.byThing.get(e.thingId);
    if (!current || next.revision >= current.revision) {
      this.byThing.delete(e.thingId);
      this.byThing.set(e.thingId, next);
      if (this.byThing.size > MAX_THINGS) this.byThing.delete(this.byThing.keys().next().value!);
    }
    this.bySeq.set(e.seq, next.state);
    if (this.bySeq.size > MAX_SEQS) this.bySeq.delete(this.bySeq.keys().next().value!);
  }
}

/**
 * The state after `e` from the state before it, or undefined when that is not enough to know
 * (exported for its spec).
 */
export function derive(e: JournalEntry, before: Known | undefined): Known | undefined {
  const whole = e.path === '/';
  if (whole && e.action === 'deleted') return { revision: e.revision, state: null };
  if (whole && e.action === 'created') return { revision: e.revision, state: wholeThing(e, undefined) };
  if (!before) return undefined;
  // Newer knowledge than the entry (a replay): the latest known state stands in.
  if (before.revision >= e.revision) return before;
  if (before.revision !== e.revision - 1 || before.state === null) return undefined;
  let state: JsonObject;
  if (whole && e.action === 'modified') state = wholeThing(e, before.state);
  else if (e.action === 'merged')
    state = mergePatchAt(before.state, twinEvent(e).segments, e.value) as JsonObject;
  else if (e.action === 'deleted') state = deleteAt(before.state, twinEvent(e).segments).root as JsonObject;
  else state = setAt(before.state, twinEvent(e).segments, e.value) as JsonObject;
  return { revision: e.revision, state: { ...state, _revision: e.revision, _modified: e.timestamp } };
}

/** A whole-thing write: the stored Thing the journal holds, with the system fields. */
function wholeThing(e: JournalEntry, before: JsonObject | undefined): JsonObject {
  const value = isJsonObject(e.value) ? e.value : {};
  // In Ditto's field order, which jsonb does not keep.
  const state: JsonObject = regularFields({ ...value, thingId: e.thingId });
  state._namespace = twinEvent(e).namespace;
  state._revision = e.revision;
  // Only the creation time is not in the journal entry of a modification.
  const created = e.action === 'created' ? e.timestamp : before?._created;
  if (created !== undefined) state._created = created;
  state._modified = e.timestamp;
  return state;
}
