import type { CompiledPolicy } from './policy-evaluation.js';

interface Cached {
  enforcer: CompiledPolicy;
  /** `id@revision` of the policy and each policy it imports, as compiled. */
  versions: string;
}

/**
 * Compiled enforcers by policy id and namespace (entries may be namespace-restricted), bounded,
 * least recently used out first. An entry is dropped when its policy (or a policy it imports:
 * writers notify the importers too) changes, here or on another replica, and is not used after
 * its earliest subject expiry. A load that raced with a change is not kept: `begin()` marks when
 * it started, and a change of any policy it compiled from after that mark refuses the entry.
 */
export class PolicyCache {
  private readonly entries = new Map<string, Cached>();
  /** The keys of each policy's entries, so a change drops them without a scan of the cache. */
  private readonly keysOf = new Map<string, Set<string>>();
  private readonly changedAt = new Map<string, number>();
  private clock = 0;
  /** Changes before this tick are forgotten: loads begun earlier are refused. */
  private floor = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  begin(): number {
    return this.clock;
  }

  get(policyId: string, namespace: string, versions?: string): CompiledPolicy | undefined {
    const k = key(policyId, namespace);
    const hit = this.entries.get(k);
    if (!hit) return undefined;
    if (hit.enforcer.staleAfter <= this.now() || (versions !== undefined && versions !== hit.versions)) {
      this.remove(k, policyId);
      return undefined;
    }
    // Re-inserted: Map order is the recency order.
    this.entries.delete(k);
    this.entries.set(k, hit);
    return hit.enforcer;
  }

  put(
    namespace: string,
    enforcer: CompiledPolicy,
    versions: string,
    dependsOn: readonly string[],
    since: number,
  ): void {
    if (since < this.floor) return;
    for (const id of dependsOn) if ((this.changedAt.get(id) ?? -1) > since) return;
    const k = key(enforcer.policyId, namespace);
    this.entries.delete(k);
    this.entries.set(k, { enforcer, versions });
    let keys = this.keysOf.get(enforcer.policyId);
    if (!keys) this.keysOf.set(enforcer.policyId, (keys = new Set()));
    keys.add(k);
    if (this.entries.size > this.maxEntries) {
      const [oldest, { enforcer: evicted }] = this.entries.entries().next().value!;
      this.remove(oldest, evicted.policyId);
    }
  }

  /** The policy changed: its compilations (in any namespace) go, and running loads are refused. */
  changed(policyId: string): void {
    this.clock++;
    this.changedAt.set(policyId, this.clock);
    if (this.changedAt.size > this.maxEntries) {
      this.changedAt.clear();
      this.floor = this.clock;
    }
    for (const k of this.keysOf.get(policyId) ?? []) this.entries.delete(k);
    this.keysOf.delete(policyId);
  }

  clear(): void {
    this.clock++;
    this.floor = this.clock;
    this.changedAt.clear();
    this.entries.clear();
    this.keysOf.clear();
  }

  private remove(k: string, policyId: string): void {
    this.entries.delete(k);
    const keys = this.keysOf.get(policyId);
    keys?.delete(k);
    if (keys?.size === 0) this.keysOf.delete(policyId);
  }
}

function key(policyId: string, namespace: string): string {
  return `${policyId}\u0000${namespace}`;
}
