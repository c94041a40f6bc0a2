import { Errors } from '../common/errors.js';

export { entityTag } from '../common/entity-tag.js';

function parseTags(header: string): string[] | '*' {
  const trimmed = header.trim();
  if (trimmed === '*') return '*';
  // Weak comparison is fine for our tags: W/"rev:1" and "rev:1" name the same state.
  return trimmed
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .filter((t) => t.length > 0);
}

export interface ResourceState {
  /** Whether the addressed resource (the thing or the sub-resource) exists. */
  exists: boolean;
  /** The thing's `"rev:N"`, when the thing exists: a client may condition any write on it. */
  thingTag?: string;
  /** The addressed resource's own tag, when it exists. */
  resourceTag?: string;
}

function matches(tags: string[] | '*', state: ResourceState): boolean {
  if (tags === '*') return state.exists;
  return tags.some((t) => t === state.thingTag || (state.exists && t === state.resourceTag));
}

/**
 * RFC 7232 as Ditto applies it. For writes a failed check is 412; for reads a matching
 * If-None-Match is 304 (the caller passes read=true). A `"rev:N"` tag always refers to the
 * thing, so `If-Match: "rev:3"` can guard the creation of a new attribute.
 */
export function checkPreconditions(
  state: ResourceState,
  pre: { ifMatch?: string; ifNoneMatch?: string } | undefined,
  read = false,
): void {
  if (!pre) return;
  if (pre.ifMatch !== undefined && !matches(parseTags(pre.ifMatch), state)) {
    throw Errors.preconditionFailed('if-match', pre.ifMatch);
  }
  if (pre.ifNoneMatch !== undefined && matches(parseTags(pre.ifNoneMatch), state)) {
    if (read)
      throw Errors.notModified('if-none-match', pre.ifNoneMatch, state.resourceTag ?? state.thingTag ?? '');
    throw Errors.preconditionFailed('if-none-match', pre.ifNoneMatch);
  }
}
