import { Inject, Injectable } from '@nestjs/common';
import type { AuthContext } from '../auth/auth-context.js';
import { PolicyErrors } from '../common/errors.js';
import { JournalService } from '../journal/journal.service.js';
import type { ChangeOrigin, NewJournalEntry } from '../journal/journal.types.js';
import { isTransientDbError, retrying } from '../persistence/retry.js';
import { TransactionRunner, type Tx } from '../persistence/transaction.js';
import { parsePolicyId } from '../twins/model/thing-id.js';
import { validatePolicy } from './model/policy-validation.js';
import type { PolicyJson } from './model/policy.types.js';
import { PoliciesRepository, type StoredPolicy } from './policies.repository.js';
import { PolicyChanges } from './policy-changes.js';
import type { PolicyEnforcer } from './policy-enforcer.js';
import { compilePolicy, hasAdministrator, readersSummary, type CompiledPolicy } from './policy-evaluation.js';
import { withRequestSubject } from './request-subject.js';

export interface StageOptions {
  origin: ChangeOrigin;
  correlationId?: string;
  /** Who creates: replaces the `{{ request:subjectId }}` placeholder in subject ids. */
  auth?: AuthContext;
}

export interface StagedPolicy {
  /** To append with the caller's own entries, last in its transaction. */
  journal: NewJournalEntry;
  /** The created policy compiled for a namespace, without another read. */
  enforcer(namespace: string): PolicyEnforcer;
}

/**
 * Policies as other features use them: compiled enforcers (cached, see PolicyChanges), and the
 * creation of a thing's policy inside the twin write transaction. The policy API's own write path
 * is PolicyCommands; both keep the derived rows (readers summary, imports) through writeDerived.
 */
@Injectable()
export class PoliciesService {
  constructor(
    @Inject(PoliciesRepository) private readonly repo: PoliciesRepository,
    @Inject(JournalService) private readonly journal: JournalService,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(PolicyChanges) private readonly changes: PolicyChanges,
  ) {}

  /** The policy compiled for things in `namespace`; null when it does not exist. Cached. */
  async enforcerFor(policyId: string, namespace: string): Promise<PolicyEnforcer | null> {
    const cache = this.changes.listening ? this.changes.cache : undefined;
    const hit = cache?.get(policyId, namespace);
    if (hit) return hit;
    const since = cache?.begin() ?? 0;
    const stored = await this.repo.findOne(this.tx.db, policyId);
    if (!stored) return null;
    const { enforcer, versions, dependsOn } = await this.compileStored(this.tx.db, stored, namespace);
    cache?.put(namespace, enforcer, versions, dependsOn, since);
    return enforcer;
  }

  /**
   * Inside a caller's transaction: sees the transaction's own writes and the committed state,
   * reusing a cached compilation only when every policy it was made from is still at the same
   * revision. What is compiled here is not cached (the transaction may yet roll back).
   */
  async enforcerIn(tx: Tx, policyId: string, namespace: string): Promise<PolicyEnforcer | null> {
    const revisions = await this.repo.versionsOf(tx, policyId);
    if (!revisions.has(policyId)) return null;
    const hit = this.changes.cache.get(policyId, namespace, versionString(policyId, revisions));
    if (hit) return hit;
    const stored = await this.repo.findOne(tx, policyId);
    if (!stored) return null;
    return (await this.compileStored(tx, stored, namespace)).enforcer;
  }

  async enforcersIn(
    tx: Tx,
    policyIds: readonly string[],
    namespaceOf: (policyId: string) => string,
  ): Promise<Map<string, PolicyEnforcer | null>> {
    const out = new Map<string, PolicyEnforcer | null>();
    for (const id of new Set(policyIds)) out.set(id, await this.enforcerIn(tx, id, namespaceOf(id)));
    return out;
  }

  /** The cached compilation, without any I/O; undefined when there is none to trust. */
  cachedEnforcer(policyId: string, namespace: string): PolicyEnforcer | null | undefined {
    return this.changes.listening ? this.changes.cache.get(policyId, namespace) : undefined;
  }

  /**
   * Creates, in its own transaction, a policy giving `subjects` READ and WRITE on everything,
   * unless a policy with that id exists. True when it created it.
   */
  async ensureExists(policyId: string, subjects: readonly string[]): Promise<boolean> {
    const policy = this.defaultPolicy(policyId, subjects[0]);
    for (const s of subjects.slice(1)) policy.entries.DEFAULT.subjects[s] = { type: 'generated' };
    return retrying(
      () =>
        this.tx.run(async (tx) => {
          if (await this.exists(tx, policyId)) return false;
          const staged = await this.stageCreate(tx, policyId, policy, { origin: 'system' });
          await this.journal.append(tx, [staged.journal]);
          return true;
        }),
      { retryable: (err, attempt) => attempt < 5 && isTransientDbError(err) },
    );
  }

  /** The stored policy as committed, null when there is none (for the Ditto sync's comparisons). */
  find(policyId: string): Promise<StoredPolicy | null> {
    return this.repo.findOne(this.tx.db, policyId);
  }

  async exists(tx: Tx, policyId: string): Promise<boolean> {
    return (await this.repo.revisions(tx, [policyId])).has(policyId);
  }

  /** Ditto's default policy of a new thing: its creator may read and write everything. */
  defaultPolicy(policyId: string, subject: string): PolicyJson {
    const all = {
      grant: ['READ', 'WRITE'] as PolicyJson['entries'][string]['resources'][string]['grant'],
      revoke: [],
    };
    return {
      policyId,
      entries: {
        DEFAULT: {
          subjects: { [subject]: { type: 'generated' } },
          resources: { 'thing:/': all, 'policy:/': all, 'message:/': all },
        },
      },
    };
  }

  /**
   * Creates a policy in the caller's transaction (a new thing's policy): validates it, enforces
   * the sanity rule, writes the row and its derived rows. The caller appends the returned journal
   * entry with its own, last. A concurrent creation of the same id fails the transaction with a
   * serialization failure, so the caller's retry runs again and finds the policy there.
   */
  async stageCreate(tx: Tx, policyId: string, policy: unknown, opts: StageOptions): Promise<StagedPolicy> {
    const { namespace } = parsePolicyId(policyId);
    const body = opts.auth ? withRequestSubject(policy, opts.auth.defaultSubject) : policy;
    const doc = validatePolicy(policyId, body);
    if (!hasAdministrator(doc, namespace)) throw PolicyErrors.modificationInvalid(policyId);
    const last = (await this.journal.lastPolicyRevisions(tx, [policyId])).get(policyId) ?? 0;
    const now = new Date().toISOString();
    const stored: StoredPolicy = {
      policyId,
      namespace,
      doc,
      revision: last + 1,
      created: now,
      modified: now,
    };
    if (!(await this.repo.insert(tx, stored))) {
      throw Object.assign(new Error(`policy ${policyId} was created concurrently`), { code: '40001' });
    }
    const { imported } = await this.writeDerived(tx, stored);
    return {
      journal: policyEntry(stored, 'created', [], doc, opts),
      enforcer: (ns) => compilePolicy(doc, { imported, namespace: ns, revision: stored.revision }),
    };
  }

  /** Compiles a stored policy with the policies it imports, as they are in `db`. */
  async compileStored(
    db: Tx,
    stored: StoredPolicy,
    namespace: string,
  ): Promise<{ enforcer: CompiledPolicy; versions: string; dependsOn: string[] }> {
    const importedIds = Object.keys(stored.doc.imports ?? {});
    const imported = await this.repo.findMany(db, importedIds);
    const revisions = new Map([
      [stored.policyId, stored.revision],
      ...imported.map((p) => [p.policyId, p.revision] as const),
    ]);
    const enforcer = compilePolicy(stored.doc, {
      imported: new Map(imported.map((p) => [p.policyId, p.doc])),
      namespace,
      revision: stored.revision,
      shapes: this.changes.shapes,
    });
    return {
      enforcer,
      versions: versionString(stored.policyId, revisions),
      dependsOn: [stored.policyId, ...importedIds],
    };
  }

  /**
   * After a policy was written (or deleted: pass null): its readers summary and imports rows,
   * the readers of every policy importing it, and the NOTIFY that makes every replica drop its
   * compilations of all of them. Returns the documents it imports, by id, and the ids whose
   * compilations changed (for forget() after commit). Call before the journal append.
   */
  async writeDerived(
    tx: Tx,
    stored: StoredPolicy,
    deleted = false,
  ): Promise<{ imported: Map<string, PolicyJson>; changed: string[] }> {
    const imported = new Map<string, PolicyJson>();
    if (!deleted) {
      const importedIds = Object.keys(stored.doc.imports ?? {});
      for (const p of await this.repo.findMany(tx, importedIds)) imported.set(p.policyId, p.doc);
      await this.repo.replaceReaders(tx, stored.policyId, readersSummary(stored.doc, imported));
      await this.repo.replaceImports(tx, stored.policyId, importedIds);
    }
    const importers = await this.repo.lockImporters(tx, stored.policyId);
    for (const importer of importers) {
      const theirs = new Map<string, PolicyJson>();
      const ids = Object.keys(importer.doc.imports ?? {}).filter((id) => id !== stored.policyId);
      for (const p of await this.repo.findMany(tx, ids)) theirs.set(p.policyId, p.doc);
      if (!deleted) theirs.set(stored.policyId, stored.doc);
      await this.repo.replaceReaders(tx, importer.policyId, readersSummary(importer.doc, theirs));
    }
    const changed = [stored.policyId, ...importers.map((p) => p.policyId)];
    await this.repo.notifyChanged(tx, changed);
    return { imported, changed };
  }

  /**
   * Drops this replica's compilations of policies a committed transaction changed, right after
   * the commit, so this replica does not wait for its own NOTIFY.
   */
  forget(policyIds: readonly string[]): void {
    for (const id of policyIds) this.changes.cache.changed(id);
  }

  /**
   * After a twin transaction that staged policy creations committed. A created policy had no
   * compilation here to drop (nothing is cached for a missing policy, nor inside a transaction),
   * so there is nothing to do; kept so the twin write path need not know that.
   */
  forgetChanged(policyIds: readonly string[] = []): void {
    this.forget(policyIds);
  }
}

export function policyEntry(
  stored: StoredPolicy,
  action: NewJournalEntry['action'],
  path: readonly string[],
  value: unknown,
  opts: { origin: ChangeOrigin; correlationId?: string },
): NewJournalEntry {
  return {
    entity: 'policy',
    thingId: stored.policyId,
    revision: stored.revision,
    action,
    path: path.length === 0 ? '/' : '/' + path.join('/'),
    value,
    timestamp: stored.modified,
    origin: opts.origin,
    correlationId: opts.correlationId ?? null,
  };
}

function versionString(policyId: string, revisions: ReadonlyMap<string, number>): string {
  const others = [...revisions].filter(([id]) => id !== policyId).sort(([a], [b]) => (a < b ? -1 : 1));
  return [[policyId, revisions.get(policyId)], ...others].map(([id, r]) => `${id}@${r}`).join(',');
}
