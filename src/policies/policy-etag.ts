import { PolicyErrors } from '../common/errors.js';

/** Ditto's entity tags for policies: as for things (see common/entity-tag.ts). */
export { entityTag as policyTag, canonicalJson } from '../common/entity-tag.js';

export interface Preconditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

export interface TagState {
  exists: boolean;
  /** The policy's `"rev:N"` when the policy exists: any write may be conditioned on it. */
  policyTag?: string;
  resourceTag?: string;
}

function parseTags(header: string): string[] | '*' {
  const trimmed = header.trim();
  if (trimmed === '*') return '*';
  return trimmed
    .split(',')
    .map((t) => t.trim())
    .map((t) => (t.startsWith('W/') ? t.slice(2) : t))
    .filter((t) => t.length > 0);
}

function matches(tags: string[] | '*', s: TagState): boolean {
  if (tags === '*') return s.exists;
  return tags.some((t) => t === s.policyTag || (s.exists && t === s.resourceTag));
}

/** RFC 7232 as Ditto applies it: 412 for writes, 304 for a read whose If-None-Match matches. */
export function checkPolicyPreconditions(s: TagState, pre: Preconditions, read = false): void {
  if (pre.ifMatch !== undefined && !matches(parseTags(pre.ifMatch), s))
    throw PolicyErrors.preconditionFailed('if-match', pre.ifMatch);
  if (pre.ifNoneMatch !== undefined && matches(parseTags(pre.ifNoneMatch), s)) {
    if (read)
      throw PolicyErrors.notModified('if-none-match', pre.ifNoneMatch, s.resourceTag ?? s.policyTag ?? '');
    throw PolicyErrors.preconditionFailed('if-none-match', pre.ifNoneMatch);
  }
}
