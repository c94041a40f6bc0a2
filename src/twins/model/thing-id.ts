import type { DomainError } from '../../common/domain-error.js';
import { Errors } from '../../common/errors.js';
import { storableText } from '../../common/text.js';

/**
 * Ditto's namespaced entity ID (`RegexPatterns.ID_REGEX`, possessive quantifiers dropped).
 * Ditto counts \x7F-\xFF as control characters, so Latin-1 letters such as `ä` are refused
 * while other non-ASCII characters are allowed.
 */
const NAMESPACE = '(?:|[a-zA-Z]\\w*(?:[.-][a-zA-Z]\\w*)*)';
const ID_PATTERN = new RegExp(`^(${NAMESPACE}):([^\\x00-\\x1F\\x7F-\\xFF/]+)$`);
const NAMESPACE_PATTERN = new RegExp(`^${NAMESPACE}$`);
const MAX_ID_LENGTH = 256;

export interface NamespacedId {
  namespace: string;
  name: string;
}

export function parseThingId(id: string): NamespacedId {
  return parseNamespacedId(id, Errors.thingIdInvalid);
}

export function parsePolicyId(id: string): NamespacedId {
  return parseNamespacedId(id, Errors.policyIdInvalid);
}

/** Whether parseThingId would accept the id, without building its error. */
export function isValidThingId(id: string): boolean {
  return id.length <= MAX_ID_LENGTH && ID_PATTERN.test(id) && storableText(id);
}

/** Policy IDs follow the same rules as thing IDs. */
export const isValidPolicyId = isValidThingId;

/** The empty namespace is valid: Ditto allows IDs like `:name`. */
export function isValidNamespace(ns: string): boolean {
  return ns.length < MAX_ID_LENGTH && NAMESPACE_PATTERN.test(ns);
}

function parseNamespacedId(id: string, invalid: (id: string) => DomainError): NamespacedId {
  if (typeof id !== 'string') throw invalid(String(id));
  const match = id.length <= MAX_ID_LENGTH ? ID_PATTERN.exec(id) : null;
  if (!match || !storableText(id)) throw invalid(id);
  return { namespace: match[1], name: match[2] };
}
