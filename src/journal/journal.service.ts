import { Inject, Injectable } from '@nestjs/common';
import { TransactionRunner, type Tx } from '../persistence/transaction.js';
import { JournalHistoryRepository, type ThingHead } from './journal-history.repository.js';
import { JournalStatsRepository, type PendingByNamespace } from './journal-stats.repository.js';
import { JournalRepository } from './journal.repository.js';
import type { ChangeOrigin, JournalEntry, NewJournalEntry } from './journal.types.js';

/** Appends remembered as this process's own (see appendedHere); more are forgotten oldest first. */
const OWN_APPENDS_KEPT = 1024;

/** The journal as other features see it: append inside a twin transaction, read to resume. */
@Injectable()
export class JournalService {
  /** The last seq of each recent append made here, until the feed has had its commit notice. */
  private readonly ownAppends = new Set<string>();

  constructor(
    @Inject(JournalRepository) private readonly repo: JournalRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(JournalStatsRepository) private readonly stats: JournalStatsRepository,
    @Inject(JournalHistoryRepository) private readonly history: JournalHistoryRepository,
  ) {}

  async append(tx: Tx, entries: NewJournalEntry[]): Promise<JournalEntry[]> {
    const appended = await this.repo.append(tx, entries);
    const last = appended[appended.length - 1]?.seq;
    if (last !== undefined) {
      // Kept also when the transaction then rolls back (no notice comes): bounded, oldest out.
      if (this.ownAppends.size >= OWN_APPENDS_KEPT)
        this.ownAppends.delete(this.ownAppends.values().next().value!);
      this.ownAppends.add(last);
    }
    return appended;
  }

  /**
   * True once for the last seq of an append made by this process: a commit notice carrying it
   * (the NOTIFY payload) announces this process's own commit, whose entries the writer hands to
   * the event bus itself.
   */
  appendedHere(lastSeq: string): boolean {
    return this.ownAppends.delete(lastSeq);
  }

  lastRevisions(tx: Tx, thingIds: string[]): Promise<Map<string, number>> {
    return this.repo.lastRevisions(tx, thingIds);
  }

  /** The highest revision each policy ever had (its journal rows outlive a deletion). */
  lastPolicyRevisions(tx: Tx, policyIds: string[]): Promise<Map<string, number>> {
    return this.repo.lastRevisions(tx, policyIds, 'policy');
  }

  /** Entries with seq > afterSeq in seq order; committed ones only, never a later gap-fill. */
  readAfter(afterSeq: string, limit = 1000): Promise<JournalEntry[]> {
    return this.repo.readAfter(this.tx.db, afterSeq, limit);
  }

  readThing(thingId: string, fromRevision = 0, limit = 1000): Promise<JournalEntry[]> {
    return this.repo.readThing(this.tx.db, thingId, fromRevision, limit);
  }

  readPolicy(policyId: string, fromRevision = 0, limit = 1000): Promise<JournalEntry[]> {
    return this.repo.readEntity(this.tx.db, 'policy', policyId, fromRevision, limit);
  }

  /** The policy as its first deletion after a seq left it (undefined: not deleted since). */
  policyDeletedAfter(policyId: string, afterSeq: string): Promise<unknown> {
    return this.repo.policyDeletedAfter(this.tx.db, policyId, afterSeq);
  }

  /** Entries after a seq, per namespace, leaving out one origin (a consumer's own changes). */
  countAfter(afterSeq: string, opts: { excludeOrigin: ChangeOrigin }): Promise<PendingByNamespace[]> {
    return this.stats.countAfter(this.tx.db, afterSeq, opts.excludeOrigin);
  }

  headSeq(): Promise<string> {
    return this.repo.headSeq(this.tx.db);
  }

  // A thing's past, for historical reads; `db` is the caller's (client reads use the bounded pool).

  thingHead(db: Tx, thingId: string): Promise<ThingHead | undefined> {
    return this.history.head(db, thingId);
  }

  /** The newest revision written at or before `at`. */
  thingRevisionAt(db: Tx, thingId: string, at: string): Promise<number | undefined> {
    return this.history.revisionAt(db, thingId, at);
  }

  /** The first revision written at or after `at`. */
  thingRevisionAfter(db: Tx, thingId: string, at: string): Promise<number | undefined> {
    return this.history.revisionAfter(db, thingId, at);
  }

  /** Entries with revisions in (after, upTo], in revision order, at most `limit`. */
  thingEntries(db: Tx, thingId: string, after: number, upTo: number, limit: number): Promise<JournalEntry[]> {
    return this.history.entries(db, thingId, after, upTo, limit);
  }
}
