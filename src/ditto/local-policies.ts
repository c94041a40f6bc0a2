import { authContext } from '../auth/auth-context.js';
import type { PolicyJson } from '../policies/model/policy.types.js';
import type { PoliciesService } from '../policies/policies.service.js';
import type { PolicyCommands, PolicyRequest } from '../policies/policy-commands.service.js';

/** Who the policy journal names as the writer of what the sync takes over from Ditto. */
const SYNC_AUTH = authContext(['twin-platform:ditto-sync']);

export interface LocalPolicy {
  revision: number;
  doc: PolicyJson;
}

/**
 * The platform's policies as the sync reads and writes them: through the same write path as the
 * policy API, as the system (Ditto already decided who may change its policies) and with origin
 * 'ditto', so the change is not sent back. Every write is conditional on the revision the sync
 * compared against, so a local change made meanwhile is never overwritten unseen.
 */
export class LocalPolicies {
  constructor(
    private readonly policies: PoliciesService,
    private readonly commands: PolicyCommands,
  ) {}

  async get(policyId: string): Promise<LocalPolicy | null> {
    const stored = await this.policies.find(policyId);
    return stored ? { revision: stored.revision, doc: stored.doc } : null;
  }

  /** `expected` null: create only. */
  async put(policyId: string, doc: PolicyJson, expected: number | null): Promise<void> {
    await this.commands.put(this.request(policyId, expected), doc);
  }

  async remove(policyId: string, expected: number): Promise<void> {
    await this.commands.remove(this.request(policyId, expected));
  }

  private request(policyId: string, expected: number | null): PolicyRequest {
    return {
      auth: SYNC_AUTH,
      policyId,
      path: [],
      rawPath: `/api/2/policies/${encodeURIComponent(policyId)}`,
      preconditions: expected === null ? { ifNoneMatch: '*' } : { ifMatch: `"rev:${expected}"` },
      origin: 'ditto',
      system: true,
    };
  }
}
