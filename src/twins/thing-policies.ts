import { Inject, Injectable } from '@nestjs/common';
import type { ThingPolicyLookup } from '../policies/thing-policy-lookup.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { isValidThingId } from './model/thing-id.js';
import { TwinsRepository } from './twins.repository.js';

/** Which policy governs a thing, for the policies feature (checkPermissions). */
@Injectable()
export class ThingPolicies implements ThingPolicyLookup {
  constructor(
    @Inject(TwinsRepository) private readonly repo: TwinsRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
  ) {}

  async policyIdOf(thingId: string): Promise<{ policyId: string; namespace: string } | null> {
    if (!isValidThingId(thingId)) return null;
    const thing = await this.repo.findOne(this.tx.db, thingId, { metadata: false });
    return thing ? { policyId: thing.doc.policyId, namespace: thing.namespace } : null;
  }
}
