/**
 * The contract of policy evaluation (Ditto's policy model). Implemented by compilePolicy() in
 * policy-evaluation.ts; used by every feature that enforces (twins REST and search, realtime, WS).
 */
export type Permission = 'READ' | 'WRITE' | 'EXECUTE';

/** The resource types a policy controls: `thing:/…`, `policy:/…`, `message:/…`. */
export type ResourceType = 'thing' | 'policy' | 'message';

export interface PolicyEnforcer {
  /** The policy id and revision the enforcer was compiled from. */
  readonly policyId: string;
  readonly revision: number;
  /**
   * Ditto's "unrestricted" permission: granted at `path` (or inherited from above) and revoked
   * nowhere at or below it for any of the subjects. What a write of the resource at `path` needs.
   */
  hasUnrestricted(
    type: ResourceType,
    path: readonly string[],
    subjects: readonly string[],
    perm: Permission,
  ): boolean;
  /** Granted at `path` or anywhere below it (the subject may see or change some part of it). */
  hasPartial(
    type: ResourceType,
    path: readonly string[],
    subjects: readonly string[],
    perm: Permission,
  ): boolean;
  /**
   * `value`, the JSON found at `path` of the resource, cut to the parts the subjects may READ;
   * undefined when they may read nothing of it. An unrestricted reader gets `value` itself.
   */
  readable(type: ResourceType, path: readonly string[], value: unknown, subjects: readonly string[]): unknown;
}
