import { PolicyErrors } from '../../common/errors.js';
import type { ResourceType } from '../policy-enforcer.js';
import { RESOURCE_TYPES, type ResourceKey } from './policy.types.js';

export const MAX_RESOURCE_KEY_LENGTH = 2048;

/**
 * `thing:/features/x` → {type: 'thing', path: ['features', 'x']}; `thing:/` → path []. The path
 * is a JSON pointer (`~0` for `~`); empty segments are refused so one resource has one key.
 */
export function parseResourceKey(key: string): ResourceKey {
  const colon = key.indexOf(':');
  const type = key.slice(0, colon) as ResourceType;
  const pointer = key.slice(colon + 1);
  if (
    colon < 0 ||
    !RESOURCE_TYPES.includes(type) ||
    !pointer.startsWith('/') ||
    key.length > MAX_RESOURCE_KEY_LENGTH
  )
    throw invalid(key);
  if (pointer === '/') return { type, path: [] };
  const path = pointer.slice(1).split('/');
  if (path.some((s) => s.length === 0)) throw invalid(key);
  return { type, path: path.map((s) => s.replaceAll('~0', '~')) };
}

export function resourceKey(type: ResourceType, path: readonly string[]): string {
  return `${type}:/${path.map((s) => s.replaceAll('~', '~0')).join('/')}`;
}

function invalid(key: string) {
  return PolicyErrors.entryInvalid(
    `The resource '${key.slice(0, 300)}' is invalid: it must be 'thing:/<path>', 'policy:/<path>' or 'message:/<path>'.`,
  );
}
