import type { Permission } from './policy-enforcer.js';

/** What the entries of a policy say for one subject at one node: grants and revokes. */
export interface Effects {
  grant: Set<Permission>;
  revoke: Set<Permission>;
}

/** A node's verdict on one permission for a subject set: none, grant or revoke. */
export type Decision = 0 | 1 | 2;
export const NONE: Decision = 0;
export const GRANT: Decision = 1;
export const REVOKE: Decision = 2;

/**
 * One node of a resource type's path tree. Besides the node's own rules it keeps, per subject,
 * the permissions revoked strictly below it and granted at it or below it, so the questions
 * "unrestricted?" and "partial?" are answered without walking the subtree in the common case.
 */
export class TrieNode {
  readonly children = new Map<string, TrieNode>();
  readonly rules = new Map<string, Effects>();
  readonly revokedBelow = new Map<string, Set<Permission>>();
  readonly grantedWithin = new Map<string, Set<Permission>>();

  child(key: string): TrieNode {
    let next = this.children.get(key);
    if (!next) {
      next = new TrieNode();
      this.children.set(key, next);
    }
    return next;
  }

  /** The node's own decision for a subject set: a revoke of any of them beats every grant. */
  decision(subjects: readonly string[], perm: Permission): Decision {
    if (this.rules.size === 0) return NONE;
    let granted = false;
    for (const s of subjects) {
      const r = this.rules.get(s);
      if (!r) continue;
      if (r.revoke.has(perm)) return REVOKE;
      if (r.grant.has(perm)) granted = true;
    }
    return granted ? GRANT : NONE;
  }

  /** Whether any of the subjects has `perm` revoked strictly below this node. */
  revokesBelow(subjects: readonly string[], perm: Permission): boolean {
    if (this.revokedBelow.size === 0) return false;
    for (const s of subjects) if (this.revokedBelow.get(s)?.has(perm)) return true;
    return false;
  }

  /** Whether any of the subjects is granted `perm` at this node or below (revokes not considered). */
  grantsWithin(subjects: readonly string[], perm: Permission): boolean {
    if (this.grantedWithin.size === 0) return false;
    for (const s of subjects) if (this.grantedWithin.get(s)?.has(perm)) return true;
    return false;
  }

  /** Whether the subjects have any rule about `perm` at this node or below. */
  concerns(subjects: readonly string[], perm: Permission): boolean {
    return (
      this.grantsWithin(subjects, perm) ||
      this.decision(subjects, perm) !== NONE ||
      this.revokesBelow(subjects, perm)
    );
  }
}

export function addRule(root: TrieNode, path: readonly string[], subject: string, effects: Effects): void {
  let node = root;
  for (const key of path) node = node.child(key);
  const rule = node.rules.get(subject);
  if (!rule) node.rules.set(subject, { grant: new Set(effects.grant), revoke: new Set(effects.revoke) });
  else {
    for (const p of effects.grant) rule.grant.add(p);
    for (const p of effects.revoke) rule.revoke.add(p);
  }
}

/** Fills revokedBelow and grantedWithin bottom-up, once all rules are in. */
export function summarize(node: TrieNode): void {
  for (const child of node.children.values()) {
    summarize(child);
    for (const [s, effects] of child.rules) {
      mergeInto(node.revokedBelow, s, effects.revoke);
    }
    for (const [s, perms] of child.revokedBelow) mergeInto(node.revokedBelow, s, perms);
    for (const [s, perms] of child.grantedWithin) mergeInto(node.grantedWithin, s, perms);
  }
  for (const [s, effects] of node.rules) mergeInto(node.grantedWithin, s, effects.grant);
}

function mergeInto(map: Map<string, Set<Permission>>, subject: string, perms: Set<Permission>): void {
  if (perms.size === 0) return;
  const into = map.get(subject);
  if (!into) map.set(subject, new Set(perms));
  else for (const p of perms) into.add(p);
}
