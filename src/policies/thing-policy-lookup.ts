/**
 * How the policies feature learns which policy governs a thing, without depending on the twins
 * feature (which depends on this one). The twins feature provides it under THING_POLICY_LOOKUP in
 * any module; PoliciesModule resolves it lazily across modules (ModuleRef, strict: false).
 */
export interface ThingPolicyLookup {
  /** The thing's policy id and the thing's namespace; null when the thing does not exist. */
  policyIdOf(thingId: string): Promise<{ policyId: string; namespace: string } | null>;
}

export const THING_POLICY_LOOKUP = Symbol('ThingPolicyLookup');
