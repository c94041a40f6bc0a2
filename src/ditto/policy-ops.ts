import { isDeepStrictEqual } from 'node:util';
import type { JournalAction } from '../journal/journal.types.js';
import { validatePolicy } from '../policies/model/policy-validation.js';
import type { PolicyJson } from '../policies/model/policy.types.js';
import { isJsonObject } from '../twins/model/json-pointer.js';

/**
 * The mapping between our policies and Ditto's policy API. Pure, so every rule is unit-tested
 * without a server.
 */

/**
 * A policy's key for lanes and persisted progress. A policy often has the id of its thing; the
 * prefix keeps the two apart, and no thing id can take this form (a namespace holds no '/').
 */
export function policyKey(policyId: string): string {
  return `policy/${policyId}`;
}

/** What Ditto's `PUT /api/2/policies/{policyId}` takes: entries and imports (the id is the URL's). */
export function policyBody(doc: PolicyJson): Pick<PolicyJson, 'entries' | 'imports'> {
  const body: Pick<PolicyJson, 'entries' | 'imports'> = { entries: doc.entries };
  if (doc.imports && Object.keys(doc.imports).length > 0) body.imports = doc.imports;
  return body;
}

/**
 * A policy as Ditto answered it, in our model (system fields dropped, the same validation as our
 * API applies); throws the DomainError our API would answer for what the platform cannot hold.
 */
export function policyFromDitto(policyId: string, raw: unknown): PolicyJson {
  return validatePolicy(policyId, raw);
}

/**
 * Whether two policies grant the same to the same subjects: blind to key order, to the order of
 * permissions and namespaces in their lists, and to an empty `imports`.
 */
export function samePolicy(a: PolicyJson, b: PolicyJson): boolean {
  return isDeepStrictEqual(normal(a), normal(b));
}

function normal(doc: PolicyJson): unknown {
  const entries: Record<string, unknown> = {};
  for (const [label, entry] of Object.entries(doc.entries)) {
    const resources: Record<string, unknown> = {};
    for (const [key, r] of Object.entries(entry.resources))
      resources[key] = { grant: [...r.grant].sort(), revoke: [...r.revoke].sort() };
    const e: Record<string, unknown> = { subjects: entry.subjects, resources };
    if (entry.namespaces && entry.namespaces.length > 0) e.namespaces = [...entry.namespaces].sort();
    if (entry.importable !== undefined && entry.importable !== 'implicit') e.importable = entry.importable;
    entries[label] = e;
  }
  const imports: Record<string, unknown> = {};
  for (const [id, imp] of Object.entries(doc.imports ?? {}))
    imports[id] = imp.entries && imp.entries.length > 0 ? [...imp.entries].sort() : [];
  return { entries, imports };
}

/**
 * The policy a thing change links, when it links one: the policyId of a whole thing written or
 * merged, or a value written to /policyId. Ditto creates a default policy for a thing that links
 * a missing one, so this policy must reach the other side first.
 */
export function policyIdLinked(change: {
  action: JournalAction | 'PUT' | 'PATCH' | 'DELETE';
  path: readonly string[];
  value?: unknown;
}): string | undefined {
  if (change.action === 'deleted' || change.action === 'DELETE') return undefined;
  if (change.path.length === 0 && isJsonObject(change.value) && typeof change.value.policyId === 'string')
    return change.value.policyId;
  if (change.path.length === 1 && change.path[0] === 'policyId' && typeof change.value === 'string')
    return change.value;
  return undefined;
}
