import { Inject, Injectable } from '@nestjs/common';
import type { AuthContext } from '../auth/auth-context.js';
import { Errors, PolicyErrors } from '../common/errors.js';
import { TwinEventBus } from '../journal/event-bus.js';
import { JournalService } from '../journal/journal.service.js';
import type { ChangeOrigin } from '../journal/journal.types.js';
import { isTransientDbError, retrying } from '../persistence/retry.js';
import { TransactionRunner, type Tx } from '../persistence/transaction.js';
import { deleteAt, getAt, setAt } from '../twins/model/json-pointer.js';
import { parsePolicyId } from '../twins/model/thing-id.js';
import {
  isDeletable,
  levelOf,
  requiredParent,
  validateAt,
  type PolicyLevel,
} from './model/policy-resource.js';
import type { PolicyJson } from './model/policy.types.js';
import { PoliciesRepository, type StoredPolicy } from './policies.repository.js';
import { PoliciesService, policyEntry } from './policies.service.js';
import { checkPolicyPreconditions, policyTag, type Preconditions } from './policy-etag.js';
import { hasAdministrator } from './policy-evaluation.js';
import {
  withRequestSubject,
  withRequestSubjectInEntry,
  withRequestSubjectInSubjects,
} from './request-subject.js';

export interface PolicyRequest {
  auth: AuthContext;
  policyId: string;
  /** Keys inside the policy document, [] for the policy. */
  path: string[];
  rawPath: string;
  preconditions: Preconditions;
  correlationId?: string;
  /** Where the change comes from, for the journal; 'rest' when absent. */
  origin?: ChangeOrigin;
  /**
   * The platform's own writer (the Ditto sync taking over what Ditto holds) acts as the system,
   * like a twin command without auth: no permission of `auth` is checked. The policy's own rules
   * (sanity rule, imported policies exist) still hold.
   */
  system?: boolean;
}

export interface PolicyWritten {
  status: 201 | 204;
  value: unknown;
  etag: string;
}

const RETRIES = 5;

/**
 * The policy API: retrieve, create or modify, delete a policy or any sub-resource, as Ditto
 * authorizes it (READ on `policy:/<path>` to see the readable part, unrestricted WRITE to change)
 * and with its sanity rule (a policy without imports keeps an administrator). Each write is one
 * transaction: row lock, revision bump, derived rows, journal append last.
 */
@Injectable()
export class PolicyCommands {
  constructor(
    @Inject(PoliciesRepository) private readonly repo: PoliciesRepository,
    @Inject(PoliciesService) private readonly policies: PoliciesService,
    @Inject(JournalService) private readonly journal: JournalService,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(TwinEventBus) private readonly bus: TwinEventBus,
  ) {}

  async retrieve(req: PolicyRequest): Promise<{ value: unknown; etag: string; stored: StoredPolicy }> {
    parsePolicyId(req.policyId);
    levelOf(req.path, req.rawPath);
    const stored = await this.repo.findOne(this.tx.db, req.policyId);
    if (!stored) throw PolicyErrors.notFound(req.policyId, []);
    const enforcer = (await this.policies.compileStored(this.tx.db, stored, stored.namespace)).enforcer;
    const value = getAt(stored.doc, req.path);
    const readable =
      value === undefined ? undefined : enforcer.readable('policy', req.path, value, req.auth.subjects);
    if (readable === undefined) throw PolicyErrors.notFound(req.policyId, req.path);
    const etag = policyTag(stored.revision, req.path, value);
    checkPolicyPreconditions(
      { exists: true, policyTag: policyTag(stored.revision, [], null), resourceTag: etag },
      req.preconditions,
      true,
    );
    const shown =
      req.path.length === 0 ? { policyId: stored.policyId, entries: {}, ...(readable as object) } : readable;
    return { value: shown, etag, stored };
  }

  async put(req: PolicyRequest, body: unknown, allowLockout = false): Promise<PolicyWritten> {
    const { namespace } = parsePolicyId(req.policyId);
    const level = levelOf(req.path, req.rawPath);
    const value = validateAt(req.policyId, level, req.path, substitute(level, body, req.auth.defaultSubject));
    return this.write(req, async (tx, current) => {
      if (!current) {
        if (level !== 'policy') throw PolicyErrors.notFound(req.policyId, []);
        const doc = value as PolicyJson;
        if (!hasAdministrator(doc, namespace)) throw PolicyErrors.modificationInvalid(req.policyId);
        const staged = await this.policies.stageCreate(tx, req.policyId, doc, journalOpts(req));
        const created = staged.enforcer(namespace);
        if (
          !allowLockout &&
          !req.system &&
          !created.hasUnrestricted('policy', [], req.auth.subjects, 'WRITE')
        )
          throw PolicyErrors.notCreatable(req.policyId);
        await this.checkImports(tx, doc, req);
        return { entry: staged.journal, status: 201, value: doc, changed: [] };
      }
      const parent = requiredParent(level, req.path);
      if (parent && getAt(current.doc, parent) === undefined)
        throw PolicyErrors.notFound(req.policyId, parent);
      const before = getAt(current.doc, req.path);
      const next = (level === 'policy' ? value : setAt(current.doc, req.path, value)) as PolicyJson;
      if (level === 'policy' || level === 'imports' || level === 'import' || level === 'importEntries')
        await this.checkImports(tx, next, req);
      return this.replace(tx, req, current, next, before === undefined ? 'created' : 'modified', value);
    });
  }

  async remove(req: PolicyRequest): Promise<void> {
    parsePolicyId(req.policyId);
    const level = levelOf(req.path, req.rawPath);
    if (!isDeletable(level)) throw Errors.methodNotAllowed('DELETE', req.rawPath);
    await this.write(req, async (tx, current) => {
      if (!current || getAt(current.doc, req.path) === undefined)
        throw PolicyErrors.notFound(req.policyId, req.path);
      if (level === 'policy') {
        const removed = { ...current, revision: current.revision + 1, modified: new Date().toISOString() };
        await this.repo.remove(tx, req.policyId);
        const { changed } = await this.policies.writeDerived(tx, removed, true);
        return {
          // The deleted policy goes with its event: it alone says who may still be told of it.
          entry: policyEntry(removed, 'deleted', [], current.doc, journalOpts(req)),
          status: 204,
          value: undefined,
          changed,
        };
      }
      const next = deleteAt(current.doc, req.path).root as PolicyJson;
      if (next.imports && Object.keys(next.imports).length === 0) delete next.imports;
      return this.replace(tx, req, current, next, 'deleted', undefined);
    });
  }

  private async replace(
    tx: Tx,
    req: PolicyRequest,
    current: StoredPolicy,
    doc: PolicyJson,
    action: 'created' | 'modified' | 'deleted',
    value: unknown,
  ): Promise<Step> {
    const next: StoredPolicy = {
      ...current,
      doc: { ...doc, policyId: current.policyId },
      revision: current.revision + 1,
      modified: new Date().toISOString(),
    };
    if (!hasAdministrator(next.doc, current.namespace)) {
      const label = req.path[0] === 'entries' ? req.path[1] : undefined;
      throw PolicyErrors.modificationInvalid(req.policyId, label);
    }
    await this.repo.update(tx, next);
    const { changed } = await this.policies.writeDerived(tx, next);
    const entry = policyEntry(next, action, req.path, value, journalOpts(req));
    return { entry, status: action === 'created' ? 201 : 204, value, changed, revision: next.revision };
  }

  /** Ditto: the writer must be able to READ the entries it imports; imported policies must exist. */
  private async checkImports(tx: Tx, doc: PolicyJson, req: PolicyRequest): Promise<void> {
    for (const [importedId, imp] of Object.entries(doc.imports ?? {})) {
      const stored = await this.repo.findOne(tx, importedId);
      if (!stored) throw PolicyErrors.notFound(importedId, []);
      if (req.system) continue;
      const enforcer = (await this.policies.compileStored(tx, stored, stored.namespace)).enforcer;
      const listed = new Set(imp.entries ?? []);
      for (const [label, entry] of Object.entries(stored.doc.entries)) {
        const importable = entry.importable ?? 'implicit';
        if (importable === 'never' || (importable === 'explicit' && !listed.has(label))) continue;
        if (!enforcer.hasUnrestricted('policy', ['entries', label], req.auth.subjects, 'READ'))
          throw PolicyErrors.notFound(importedId, ['entries', label]);
      }
    }
  }

  private async write(
    req: PolicyRequest,
    step: (tx: Tx, current: StoredPolicy | null) => Promise<Step>,
  ): Promise<PolicyWritten> {
    return retrying(
      async () => {
        const done = await this.tx.run(async (tx) => {
          const current = await this.repo.lock(tx, req.policyId);
          if (current)
            this.authorize(req, current, await this.policies.compileStored(tx, current, current.namespace));
          const value = current ? getAt(current.doc, req.path) : undefined;
          checkPolicyPreconditions(
            {
              exists: value !== undefined,
              policyTag: current ? policyTag(current.revision, [], null) : undefined,
              resourceTag: value === undefined ? undefined : policyTag(current!.revision, req.path, value),
            },
            req.preconditions,
          );
          const result = await step(tx, current);
          const [entry] = await this.journal.append(tx, [result.entry]);
          return { result, entry };
        });
        this.policies.forget(done.result.changed);
        this.bus.publish([done.entry]);
        const revision = done.entry.revision;
        return {
          status: done.result.status,
          value: done.result.value,
          etag: policyTag(revision, req.path, done.result.value),
        };
      },
      { retryable: (err, attempt) => attempt < RETRIES && isTransientDbError(err) },
    );
  }

  /** Unrestricted WRITE at the path; who cannot even read it learns nothing (404). */
  private authorize(
    req: PolicyRequest,
    _current: StoredPolicy,
    compiled: Awaited<ReturnType<PoliciesService['compileStored']>>,
  ): void {
    if (req.system) return;
    const e = compiled.enforcer;
    if (e.hasUnrestricted('policy', req.path, req.auth.subjects, 'WRITE')) return;
    if (!e.hasPartial('policy', req.path, req.auth.subjects, 'READ'))
      throw PolicyErrors.notFound(req.policyId, req.path);
    throw PolicyErrors.notModifiable(req.policyId, req.path);
  }
}

interface Step {
  entry: ReturnType<typeof policyEntry>;
  status: 201 | 204;
  value: unknown;
  changed: string[];
  revision?: number;
}

function journalOpts(req: PolicyRequest): { origin: ChangeOrigin; correlationId?: string } {
  return { origin: req.origin ?? 'rest', correlationId: req.correlationId };
}

function substitute(level: PolicyLevel, body: unknown, subject: string): unknown {
  if (level === 'policy') return withRequestSubject(body, subject);
  if (level === 'entries')
    return (withRequestSubject({ entries: body }, subject) as { entries: unknown }).entries;
  if (level === 'entry') return withRequestSubjectInEntry(body, subject);
  if (level === 'subjects') return withRequestSubjectInSubjects(body, subject);
  return body;
}
