import { Inject, Injectable } from '@nestjs/common';
import type { PolicyEnforcer } from '../policies/policy-enforcer.js';
import { PoliciesService } from '../policies/policies.service.js';
import type { EnforcerSource } from './event-access.js';

/** The policies feature's compiled-policy cache, as the event streams read it. */
@Injectable()
export class PolicyEnforcers implements EnforcerSource {
  constructor(@Inject(PoliciesService) private readonly policies: PoliciesService) {}

  cached(policyId: string, namespace: string): PolicyEnforcer | null | undefined {
    return this.policies.cachedEnforcer(policyId, namespace);
  }

  load(policyId: string, namespace: string): Promise<PolicyEnforcer | null> {
    return this.policies.enforcerFor(policyId, namespace);
  }
}
