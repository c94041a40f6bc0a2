import { Inject, Injectable } from '@nestjs/common';
import { JournalService } from '../journal/journal.service.js';
import type { PolicyJson } from '../policies/model/policy.types.js';
import type { PolicyEnforcer } from '../policies/policy-enforcer.js';
import { PoliciesService } from '../policies/policies.service.js';
import { compilePolicy } from '../policies/policy-evaluation.js';
import { isJsonObject } from '../twins/model/json-pointer.js';
import type { EnforcerSource } from './event-access.js';

/** The policies feature's compiled-policy cache, as the event streams read it. */
@Injectable()
export class PolicyEnforcers implements EnforcerSource {
  constructor(
    @Inject(PoliciesService) private readonly policies: PoliciesService,
    @Inject(JournalService) private readonly journal: JournalService,
  ) {}

  cached(policyId: string, namespace: string): PolicyEnforcer | null | undefined {
    return this.policies.cachedEnforcer(policyId, namespace);
  }

  load(policyId: string, namespace: string): Promise<PolicyEnforcer | null> {
    return this.policies.enforcerFor(policyId, namespace);
  }

  /**
   * A thing whose policy was deleted long ago may keep changing (its device still reports), and
   * every stream would ask the journal again on every batch: "not deleted after seq S" is kept for
   * a second and answers for any later seq too.
   */
  private readonly notDeleted = new Map<string, { at: number; fromSeq: bigint }>();

  async deletedAfter(policyId: string, namespace: string, afterSeq: string): Promise<PolicyEnforcer | null> {
    const k = `${namespace}\u0000${policyId}`;
    const seq = BigInt(afterSeq);
    const known = this.notDeleted.get(k);
    if (known && Date.now() - known.at < NOT_DELETED_TTL_MS && seq >= known.fromSeq) return null;
    const value = await this.journal.policyDeletedAfter(policyId, afterSeq);
    if (isJsonObject(value)) return compilePolicy(value as unknown as PolicyJson, { namespace });
    if (this.notDeleted.size >= NOT_DELETED_MAX) this.notDeleted.clear();
    this.notDeleted.set(k, { at: Date.now(), fromSeq: seq });
    return null;
  }
}

const NOT_DELETED_TTL_MS = 1_000;
const NOT_DELETED_MAX = 10_000;
