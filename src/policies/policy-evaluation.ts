import { isJsonObject } from '../twins/model/json-pointer.js';
import type { Permission, PolicyEnforcer, ResourceType } from './policy-enforcer.js';
import { parseResourceKey } from './model/resource-key.js';
import type { PolicyEntryJson, PolicyJson } from './model/policy.types.js';
import { RESOURCE_TYPES } from './model/policy.types.js';
import { addRule, GRANT, NONE, REVOKE, summarize, TrieNode, type Decision } from './policy-trie.js';
import type { CompiledShape, CompiledShapes, LiveEntry } from './policy-shapes.js';

export interface CompileOptions {
  /** The policies this one imports, by id; an import that is missing here contributes nothing. */
  imported?: ReadonlyMap<string, PolicyJson>;
  /**
   * The namespace of the entity the policy is applied to. Entries restricted by `namespaces`
   * apply only when it matches; without a namespace they never apply.
   */
  namespace?: string;
  revision?: number;
  /** Epoch ms the subject expiries are compared with; now by default. */
  now?: number;
  /** Internal (readersSummary): apply namespace-restricted entries whatever the namespace. */
  anyNamespace?: boolean;
  /** Shares the compiled structure with policies of the same content (the policy cache's). */
  shapes?: CompiledShapes;
}

/** A policy compiled for evaluation; `staleAfter` is when its earliest future subject expiry passes. */
export interface CompiledPolicy extends PolicyEnforcer {
  readonly staleAfter: number;
  /** Every subject the applicable entries name (expired ones left out). */
  readonly subjects: ReadonlySet<string>;
}

/**
 * Compiles a policy (with the entries it imports) into one path tree per resource type. Each
 * question then costs a walk down the asked path, checking only the asking subjects at each node.
 *
 * Imports are resolved one level deep: the imported policies' own imports, `references` and
 * `transitiveImports` are not followed (the validator refuses the latter two).
 */
export function compilePolicy(policy: PolicyJson, opts: CompileOptions = {}): CompiledPolicy {
  return compile(policy, opts);
}

function compile(policy: PolicyJson, opts: CompileOptions): Enforcer {
  const now = opts.now ?? Date.now();
  const live: LiveEntry[] = [];
  let staleAfter = Infinity;
  for (const entry of applicableEntries(policy, opts)) {
    const subjects: string[] = [];
    for (const [subject, s] of Object.entries(entry.subjects ?? {})) {
      if (s.expiry !== undefined) {
        const at = Date.parse(s.expiry);
        if (!(at > now)) continue;
        staleAfter = Math.min(staleAfter, at);
      }
      subjects.push(subject);
    }
    if (subjects.length > 0) live.push({ subjects, resources: entry.resources ?? {} });
  }
  const shape = opts.shapes ? opts.shapes.get(live, () => build(live)) : build(live);
  return new Enforcer(policy.policyId, opts.revision ?? 0, shape.trees, staleAfter, shape.subjects);
}

function build(live: readonly LiveEntry[]): CompiledShape {
  const trees = new Map<ResourceType, TrieNode>(RESOURCE_TYPES.map((t) => [t, new TrieNode()]));
  const subjects = new Set<string>();
  for (const entry of live) {
    for (const [key, effects] of Object.entries(entry.resources)) {
      const { type, path } = parseResourceKey(key);
      const rule = { grant: new Set(effects.grant ?? []), revoke: new Set(effects.revoke ?? []) };
      for (const subject of entry.subjects) addRule(trees.get(type)!, path, subject, rule);
    }
    for (const subject of entry.subjects) subjects.add(subject);
  }
  for (const tree of trees.values()) summarize(tree);
  return { trees, subjects };
}

function* applicableEntries(policy: PolicyJson, opts: CompileOptions): Iterable<PolicyEntryJson> {
  const applies = (e: PolicyEntryJson) => opts.anyNamespace || namespaceMatches(e.namespaces, opts.namespace);
  for (const entry of Object.values(policy.entries)) if (applies(entry)) yield entry;
  for (const [importedId, imp] of Object.entries(policy.imports ?? {})) {
    const imported = opts.imported?.get(importedId);
    if (!imported) continue;
    const listed = new Set(imp.entries ?? []);
    for (const [label, entry] of Object.entries(imported.entries)) {
      const importable = entry.importable ?? 'implicit';
      if (importable === 'never' || (importable === 'explicit' && !listed.has(label))) continue;
      if (applies(entry)) yield entry;
    }
  }
}

/** `com.acme` matches exactly, `com.acme.*` matches below it; none or [] matches everything. */
export function namespaceMatches(
  patterns: readonly string[] | undefined,
  namespace: string | undefined,
): boolean {
  if (!patterns || patterns.length === 0) return true;
  if (namespace === undefined) return false;
  return patterns.some((p) =>
    p.endsWith('.*')
      ? namespace.startsWith(p.slice(0, -1)) && namespace.length > p.length - 1
      : p === namespace,
  );
}

class Enforcer implements CompiledPolicy {
  constructor(
    readonly policyId: string,
    readonly revision: number,
    readonly trees: ReadonlyMap<ResourceType, TrieNode>,
    readonly staleAfter: number,
    readonly subjects: ReadonlySet<string>,
  ) {}

  hasUnrestricted(
    type: ResourceType,
    path: readonly string[],
    subjects: readonly string[],
    perm: Permission,
  ): boolean {
    const { decision, node } = this.walk(type, path, subjects, perm);
    return decision === GRANT && !(node?.revokesBelow(subjects, perm) ?? false);
  }

  hasPartial(
    type: ResourceType,
    path: readonly string[],
    subjects: readonly string[],
    perm: Permission,
  ): boolean {
    const { decision, node } = this.walk(type, path, subjects, perm);
    if (decision === GRANT) return true;
    return node !== undefined && grantedSomewhereBelow(node, subjects, perm);
  }

  readable(
    type: ResourceType,
    path: readonly string[],
    value: unknown,
    subjects: readonly string[],
  ): unknown {
    const { decision, node } = this.walk(type, path, subjects, 'READ');
    if (decision === GRANT && !(node?.revokesBelow(subjects, 'READ') ?? false)) return value;
    const cut = cutReadable(node, decision, value, subjects);
    // Ditto: whoever may read any part of a thing also sees its id. The policy id comes along, as
    // Ditto's Thing schema requires it and it names no data.
    if (
      type === 'thing' &&
      path.length === 0 &&
      cut !== undefined &&
      isJsonObject(value) &&
      'thingId' in value
    ) {
      const ids =
        'policyId' in value
          ? { thingId: value.thingId, policyId: value.policyId }
          : { thingId: value.thingId };
      return { ...ids, ...(cut as Record<string, unknown>) };
    }
    return cut;
  }

  /** The decision in force at `path` (the nearest one on the way down) and the node there, if any. */
  private walk(
    type: ResourceType,
    path: readonly string[],
    subjects: readonly string[],
    perm: Permission,
  ): { decision: Decision; node: TrieNode | undefined } {
    let node: TrieNode | undefined = this.trees.get(type);
    let decision: Decision = NONE;
    if (!node) return { decision, node };
    decision = inherit(decision, node.decision(subjects, perm));
    for (const key of path) {
      node = node.children.get(key);
      if (!node) break;
      decision = inherit(decision, node.decision(subjects, perm));
    }
    return { decision, node };
  }
}

function inherit(above: Decision, own: Decision): Decision {
  return own === NONE ? above : own;
}

/** A node below (not at) `node` where the subjects' own decision is a grant. */
function grantedSomewhereBelow(node: TrieNode, subjects: readonly string[], perm: Permission): boolean {
  for (const child of node.children.values()) {
    if (!child.grantsWithin(subjects, perm)) continue;
    if (child.decision(subjects, perm) === GRANT || grantedSomewhereBelow(child, subjects, perm)) return true;
  }
  return false;
}

/**
 * The readable part of `value` at `node` given the decision in force above it. Objects are cut
 * key by key; arrays and scalars are leaves. A granted object keeps its (maybe empty) readable
 * part; an object that is not granted itself disappears when nothing in it is readable.
 */
function cutReadable(
  node: TrieNode | undefined,
  above: Decision,
  value: unknown,
  subjects: readonly string[],
): unknown {
  const decision = node ? inherit(above, node.decision(subjects, 'READ')) : above;
  const granted = decision === GRANT;
  if (!node || !isJsonObject(value) || !concernsBelow(node, subjects)) return granted ? value : undefined;
  if (granted && !node.revokesBelow(subjects, 'READ')) return value;
  const out: Record<string, unknown> = {};
  let any = false;
  for (const [key, child] of Object.entries(value)) {
    const part = cutReadable(node.children.get(key), decision, child, subjects);
    if (part === undefined) continue;
    Object.defineProperty(out, key, { value: part, enumerable: true, writable: true, configurable: true });
    any = true;
  }
  return granted || any ? out : undefined;
}

/** Whether the subjects have any READ rule strictly below `node` (else the decision there is uniform). */
function concernsBelow(node: TrieNode, subjects: readonly string[]): boolean {
  for (const child of node.children.values()) if (child.concerns(subjects, 'READ')) return true;
  return false;
}

export interface ReaderSummary {
  subject: string;
  /** Granted READ on some `thing:` resource (a pre-filter for search: may see something). */
  readsSome: boolean;
  /** Alone, unrestricted READ on `thing:/` in every namespace (sees every thing whole). */
  readsAll: boolean;
  /** Has a READ revoke on some `thing:` resource. */
  revokesSome: boolean;
}

/**
 * Per subject of a policy, how it reads the things it governs: the search index's pre-filter.
 * Namespace-restricted entries count for readsSome and revokesSome (over-approximations) but
 * readsAll holds only when it holds whatever the thing's namespace (an under-approximation).
 */
export function readersSummary(
  policy: PolicyJson,
  imported?: ReadonlyMap<string, PolicyJson>,
  now = Date.now(),
): ReaderSummary[] {
  const all = compile(policy, { imported, now, anyNamespace: true });
  const expiring = subjectsWithExpiry(policy, imported);
  const universal = compile(policy, { imported, now });
  const root = all.trees.get('thing')!;
  return [...all.subjects].sort().map((subject) => {
    const one = [subject];
    return {
      subject,
      readsSome: root.grantsWithin(one, 'READ'),
      readsAll:
        !expiring.has(subject) &&
        universal.hasUnrestricted('thing', [], one, 'READ') &&
        all.hasUnrestricted('thing', [], one, 'READ'),
      revokesSome: root.decision(one, 'READ') === REVOKE || root.revokesBelow(one, 'READ'),
    };
  });
}

/**
 * Ditto's sanity rule: a policy without imports must keep a subject that alone has unrestricted
 * WRITE on `policy:/` (evaluated in the policy's own namespace), or no one could change it again.
 */
export function hasAdministrator(policy: PolicyJson, namespace: string, now = Date.now()): boolean {
  if (policy.imports && Object.keys(policy.imports).length > 0) return true;
  const compiled = compile(policy, { namespace, now });
  for (const s of compiled.subjects) if (compiled.hasUnrestricted('policy', [], [s], 'WRITE')) return true;
  return false;
}

/** Subjects with an expiry anywhere in the policy or its imports. */
function subjectsWithExpiry(policy: PolicyJson, imported?: ReadonlyMap<string, PolicyJson>): Set<string> {
  const out = new Set<string>();
  for (const p of [policy, ...(imported?.values() ?? [])])
    for (const e of Object.values(p.entries))
      for (const [s, subject] of Object.entries(e.subjects ?? {}))
        if (subject.expiry !== undefined) out.add(s);
  return out;
}
