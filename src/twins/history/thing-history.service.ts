import { Inject, Injectable, Logger } from '@nestjs/common';
import { enforced, type AuthContext } from '../../auth/auth-context.js';
import { Errors } from '../../common/errors.js';
import { ConfigService } from '../../config/config.service.js';
import type { JournalEntry } from '../../journal/journal.types.js';
import { PoliciesService } from '../../policies/policies.service.js';
import { TransactionRunner } from '../../persistence/transaction.js';
import { parseThingId } from '../model/thing-id.js';
import { classifyPath } from '../model/thing-validation.js';
import type { FieldSelector } from '../thing-view.js';
import type { Preconditions, StoredThing } from '../twin.types.js';
import { TwinsQueryService } from '../twins-query.service.js';
import { TwinsRepository } from '../twins.repository.js';
import { historyNotAccessible, historyNotRetained, type HistoricalKind } from './history-errors.js';
import { JournalService } from '../../journal/journal.service.js';
import type { ThingHead } from '../../journal/journal-history.repository.js';
import { HistoryRepository } from './history.repository.js';
import type { HistoricalPoint } from './history-request.js';
import { applyEntry, initialState, ReplayGapError, type HistoricalState } from './replay.js';

/** Journal rows read per round trip while replaying. */
const PAGE = 5000;

export interface HistoricalRead {
  value: unknown;
  headers: Record<string, string>;
}

/** A range of a thing's revisions, both ends included; `to` undefined: up to the present and on. */
export interface RevisionRange {
  from: number;
  to?: number;
  /** A range ending at a time that is not over yet: it also ends at the first change after it. */
  until?: string;
}

/** Where a historical stream starts and stops, as the client gave it. */
export interface StreamBounds {
  fromRevision?: number;
  toRevision?: number;
  fromTimestamp?: string;
  toTimestamp?: string;
}

/**
 * Things as they were: rebuilt by replaying their journal rows from the nearest snapshot (or from
 * the first revision). A snapshot is kept every HISTORY_SNAPSHOT_EVERY revisions, written the first
 * time a read replays past it, so any later read of that thing replays fewer rows than that. The
 * write path does not know about snapshots: it stays as fast as before.
 *
 * Enforcement: a subject reads history by the thing's policy as it is now (the one its newest
 * journal row names), not as it was then; the historical state is cut by that policy like a
 * current read. Who may no longer read the thing cannot read its past either.
 */
@Injectable()
export class ThingHistoryService {
  private readonly logger = new Logger('ThingHistory');
  private readonly every: number;

  constructor(
    @Inject(HistoryRepository) private readonly repo: HistoryRepository,
    @Inject(JournalService) private readonly journal: JournalService,
    @Inject(TwinsRepository) private readonly twins: TwinsRepository,
    @Inject(TwinsQueryService) private readonly query: TwinsQueryService,
    @Inject(PoliciesService) private readonly policies: PoliciesService,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.every = config.get('HISTORY_SNAPSHOT_EVERY');
  }

  /** A retrieve with `at-historical-revision` or `at-historical-timestamp`. */
  async get(
    thingId: string,
    path: string[],
    fields: FieldSelector | undefined,
    pre: Preconditions | undefined,
    authIn: AuthContext | undefined,
    at: HistoricalPoint,
  ): Promise<HistoricalRead> {
    const { namespace } = parseThingId(thingId);
    if (path.length > 0) classifyPath(path);
    const auth = enforced(authIn);
    const head = await this.readableHead(thingId, auth);
    const revision = await this.resolve(thingId, head, at);
    const state = await this.stateAt(thingId, revision, head);
    // Deleted at that revision, or not yet created: Ditto's not found, as for a missing thing.
    if (!state.doc) throw Errors.thingNotFound(thingId);
    const thing: StoredThing = {
      thingId,
      namespace,
      doc: state.doc,
      revision: state.revision,
      created: state.created ?? state.modified,
      modified: state.modified,
      // Replayed from the times each change journaled (none for changes journaled before they were).
      metadata: state.metadata,
    };
    const read = await this.query.answer(thing, path, fields, pre, auth, head.policyId ?? thingId);
    return {
      value: read.value,
      headers: {
        ETag: read.etag,
        // Which state answered, in Ditto's header names; a timestamp resolves to a revision.
        'at-historical-revision': String(state.revision),
        'at-historical-timestamp': state.modified,
      },
    };
  }

  /**
   * The revisions a historical event stream covers, checked like a historical read. Ditto's SSE
   * rules: a negative revision counts back from the current one, `to` 0 means the current one.
   */
  async streamRange(
    thingId: string,
    bounds: StreamBounds,
    authIn: AuthContext | undefined,
  ): Promise<RevisionRange> {
    parseThingId(thingId);
    const head = await this.readableHead(thingId, enforced(authIn));
    const relative = (r: number): number => (r < 0 ? Math.max(0, head.revision + r) : r);
    let from: number;
    if (bounds.fromTimestamp !== undefined) {
      // The first change at or after the time; none yet: the stream starts with the next one.
      from =
        (await this.journal.thingRevisionAfter(this.tx.bounded, thingId, bounds.fromTimestamp)) ??
        head.revision + 1;
      if (from === head.oldest && head.oldest > 1) {
        const before = await this.journal.thingRevisionAt(this.tx.bounded, thingId, bounds.fromTimestamp);
        if (before === undefined) throw historyNotRetained(thingId, 'timestamp', bounds.fromTimestamp);
      }
    } else {
      // 0: from the first revision the journal still holds.
      from = Math.max(relative(bounds.fromRevision ?? 0), bounds.fromRevision === 0 ? head.oldest : 1);
      if (from < head.oldest) throw historyNotRetained(thingId, 'revision', from);
      if (from > head.revision + 1) throw historyNotAccessible(thingId, 'revision', from);
    }
    if (bounds.toTimestamp !== undefined) {
      const to = await this.journal.thingRevisionAt(this.tx.bounded, thingId, bounds.toTimestamp);
      // A time still ahead: the stream goes on live until it has passed.
      if (Date.parse(bounds.toTimestamp) > Date.now()) return { from, until: bounds.toTimestamp };
      return { from, to: to ?? 0 };
    }
    if (bounds.toRevision !== undefined) {
      const to = bounds.toRevision === 0 ? head.revision : relative(bounds.toRevision);
      return { from, to };
    }
    return { from };
  }

  /** Journal rows of the thing with revisions in (after, upTo], in order, at most `limit`. */
  entries(thingId: string, after: number, upTo: number, limit = PAGE): Promise<JournalEntry[]> {
    return this.journal.thingEntries(this.tx.bounded, thingId, after, upTo, limit);
  }

  /** The thing's newest journal row, if `auth` may read the thing by its current policy. */
  private async readableHead(thingId: string, auth: AuthContext | undefined): Promise<ThingHead> {
    const head = await this.journal.thingHead(this.tx.bounded, thingId);
    if (!head) throw Errors.thingNotFound(thingId);
    if (auth) {
      const enforcer = await this.policies.enforcerFor(
        head.policyId ?? thingId,
        parseThingId(thingId).namespace,
      );
      // Before any history error, so that an unreadable thing's history reveals nothing about it.
      if (!enforcer || !enforcer.hasPartial('thing', [], auth.subjects, 'READ'))
        throw Errors.thingNotFound(thingId);
    }
    return head;
  }

  private async resolve(thingId: string, head: ThingHead, at: HistoricalPoint): Promise<number> {
    if ('revision' in at) {
      const r = at.revision;
      if (r > head.revision) throw historyNotAccessible(thingId, 'revision', r);
      // Revision 0 is the state before the first change: the thing did not exist yet.
      if (r === 0) throw Errors.thingNotFound(thingId);
      if (r < head.oldest) throw historyNotRetained(thingId, 'revision', r);
      return r;
    }
    const r = await this.journal.thingRevisionAt(this.tx.bounded, thingId, at.timestamp);
    if (r !== undefined) return r;
    // Nothing at or before that time: either the thing did not exist yet, or the rows are gone.
    if (head.oldest > 1) throw historyNotRetained(thingId, 'timestamp', at.timestamp);
    throw Errors.thingNotFound(thingId);
  }

  /**
   * The thing after `revision`. The present is read from the things table; the past is replayed
   * from the nearest snapshot, and every snapshot point passed on the way is stored.
   */
  async stateAt(thingId: string, revision: number, head?: ThingHead): Promise<HistoricalState> {
    if (head && revision === head.revision) {
      const current = await this.twins.findOne(this.tx.db, thingId);
      if (current && current.revision === revision) {
        return {
          thingId,
          revision,
          doc: current.doc,
          created: current.created,
          modified: current.modified,
          metadata: current.metadata,
        };
      }
    }
    const kind: HistoricalKind = 'revision';
    const start =
      (await this.repo.snapshotAtOrBefore(this.tx.bounded, thingId, revision)) ?? initialState(thingId);
    let state = start;
    const snapshots: HistoricalState[] = [];
    while (state.revision < revision) {
      const page = await this.entries(thingId, state.revision, revision);
      // The rows the replay needs begin right after its start; when they do not, retention took them.
      if (page.length === 0 || page[0].revision !== state.revision + 1) {
        throw historyNotRetained(thingId, kind, revision);
      }
      try {
        for (const e of page) {
          state = applyEntry(state, e);
          if (state.revision % this.every === 0) snapshots.push(state);
        }
      } catch (err) {
        if (err instanceof ReplayGapError) throw historyNotRetained(thingId, kind, revision);
        throw err;
      }
    }
    if (snapshots.length > 0) {
      // A failed snapshot costs only the next read's speed, never this read.
      await this.repo
        .saveSnapshots(this.tx.db, snapshots)
        .catch((err: unknown) =>
          this.logger.warn(`saving history snapshots failed: ${(err as Error).message}`),
        );
    }
    return state;
  }
}
