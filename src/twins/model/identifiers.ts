import { DomainError } from '../../common/domain-error.js';
import { Errors } from '../../common/errors.js';
import { isJsonObject } from './json-pointer.js';

/**
 * Ditto's NO_CONTROL_CHARS_NO_SLASHES pattern for JSON keys and feature IDs. Ditto counts
 * \x7F-\xFF as control characters (so `ä` is refused), other non-ASCII characters pass.
 */
const KEY_PATTERN = /^[^\x00-\x1F\x7F-\xFF/]+$/;
const KEY_RULES = 'Neither slashes nor any control characters are allowed as part of the JSON key.';

const DEFINITION_PATTERN = /^([_a-zA-Z0-9\-.]+):([_a-zA-Z0-9\-.]+):([_a-zA-Z0-9\-.]+)$/;

export function keyInvalid(key: string, description = KEY_RULES): DomainError {
  return new DomainError(400, 'json.key.invalid', `The JSON key <${key}> is invalid!`, description);
}

export function isValidKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** Every key of the object and of the objects nested in it; like Ditto, arrays are not entered. */
export function validateJsonKeys(value: unknown): void {
  // An explicit stack: a 100 kB body can nest deeper than the call stack allows.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (!isJsonObject(node)) continue;
    for (const key of Object.keys(node)) {
      if (!isValidKey(key)) throw keyInvalid(key);
      stack.push(node[key]);
    }
  }
}

export function validatePointerKeys(segments: readonly string[]): void {
  for (const key of segments) if (!isValidKey(key)) throw keyInvalid(key);
}

/** `*` is refused because it is the feature wildcard of field selectors. */
export function validateFeatureId(featureId: string): void {
  if (featureId === '*') {
    throw keyInvalid(featureId, "A Feature ID must not be '*': it is the wildcard of field selectors.");
  }
  if (!isValidKey(featureId)) {
    throw keyInvalid(
      featureId,
      'A Feature ID must not be empty and must contain neither slashes nor control characters.',
    );
  }
}

/** `namespace:name:version` or an http(s) URL, e.g. a WoT Thing Model. */
export function isDefinitionIdentifier(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (DEFINITION_PATTERN.test(value)) return true;
  return /^https?:\/\//i.test(value) && URL.canParse(value);
}

/** A Thing definition: an identifier, or null to clear it. */
export function validateThingDefinition(value: unknown): string | null {
  if (value === null || isDefinitionIdentifier(value)) return value;
  throw Errors.definitionInvalid(value);
}

/** A Feature definition: a non-empty array of distinct identifiers. */
export function validateFeatureDefinition(value: unknown): string[] {
  if (!Array.isArray(value)) {
    throw Errors.jsonInvalid(
      `The Feature Definition must be a JSON array of definition identifiers but was <${JSON.stringify(value)}>.`,
      'Give at least one identifier, e.g. ["org.eclipse.ditto:Lamp:1.0.0"].',
    );
  }
  if (value.length === 0) throw Errors.featureDefinitionEmpty();
  const seen = new Set<string>();
  for (const item of value) {
    if (!isDefinitionIdentifier(item)) throw Errors.definitionInvalid(item);
    if (seen.has(item)) {
      throw new DomainError(
        400,
        'things:definition.identifier.invalid',
        `Definition identifier <${JSON.stringify(item)}> appears more than once in the Feature Definition!`,
        'The identifiers of a Feature Definition must be unique.',
      );
    }
    seen.add(item);
  }
  return value as string[];
}
