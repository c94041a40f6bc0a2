import { Errors, PolicyErrors } from '../../common/errors.js';
import { parsePolicyId } from '../../twins/model/thing-id.js';
import { parseResourceKey } from './resource-key.js';
import {
  validateEntries,
  validateEntry,
  validateImport,
  validateImportable,
  validateImports,
  validateLabel,
  validateNamespaces,
  validatePolicy,
  validateResource,
  validateResources,
  validateSubject,
  validateSubjectId,
  validateSubjects,
} from './policy-validation.js';

/**
 * The sub-resources of a policy the API serves. Their paths are the keys inside the stored
 * document, one segment per key: a resource key such as `thing:/features/x` is one segment.
 */
export type PolicyLevel =
  | 'policy'
  | 'entries'
  | 'entry'
  | 'subjects'
  | 'subject'
  | 'resources'
  | 'resource'
  | 'namespaces'
  | 'importable'
  | 'imports'
  | 'import'
  | 'importEntries';

/** The level `path` addresses; any other path is not a resource of the API (404). */
export function levelOf(path: readonly string[], rawPath: string): PolicyLevel {
  const [top, key, sub, subKey, ...rest] = path;
  const level = ((): PolicyLevel | undefined => {
    if (top === undefined) return 'policy';
    if (top === 'entries') {
      if (key === undefined) return 'entries';
      if (sub === undefined) return 'entry';
      if (rest.length > 0) return undefined;
      if (sub === 'subjects') return subKey === undefined ? 'subjects' : 'subject';
      if (sub === 'resources') return subKey === undefined ? 'resources' : 'resource';
      if (subKey !== undefined) return undefined;
      if (sub === 'namespaces') return 'namespaces';
      if (sub === 'importable') return 'importable';
      return undefined;
    }
    if (top === 'imports') {
      if (key === undefined) return 'imports';
      if (sub === undefined) return 'import';
      if (sub === 'entries' && subKey === undefined) return 'importEntries';
    }
    return undefined;
  })();
  if (!level) throw Errors.notFoundRoute(rawPath);
  return level;
}

/** Whether DELETE is offered at this level (as Ditto's API lists it). */
export function isDeletable(level: PolicyLevel): boolean {
  return ['policy', 'entry', 'subject', 'resource', 'imports', 'import'].includes(level);
}

/**
 * The sub-resource that must already exist for a PUT at `path` to make sense: an entry for its
 * subjects or resources, an import for its entries. Nothing for the other levels.
 */
export function requiredParent(level: PolicyLevel, path: readonly string[]): string[] | undefined {
  if (['subjects', 'subject', 'resources', 'resource', 'namespaces', 'importable'].includes(level))
    return path.slice(0, 2);
  if (level === 'importEntries') return path.slice(0, 2);
  return undefined;
}

/** The body of a PUT at `path`, validated as what that level holds. */
export function validateAt(
  policyId: string,
  level: PolicyLevel,
  path: readonly string[],
  value: unknown,
): unknown {
  switch (level) {
    case 'policy':
      return validatePolicy(policyId, value);
    case 'entries':
      return validateEntries(value);
    case 'entry':
      validateLabel(path[1]);
      return validateEntry(value);
    case 'subjects':
      return validateSubjects(value);
    case 'subject':
      validateSubjectId(path[3]);
      return validateSubject(value);
    case 'resources':
      return validateResources(value);
    case 'resource':
      parseResourceKey(path[3]);
      return validateResource(value);
    case 'namespaces':
      return validateNamespaces(value);
    case 'importable':
      return validateImportable(value);
    case 'imports':
      return validateImports(value, policyId);
    case 'import':
      return validateImport(path[1], value, policyId);
    case 'importEntries':
      parsePolicyId(path[1]);
      return validateImport(path[1], { entries: value }, policyId).entries ?? [];
  }
}

/** The not-found error of a missing parent, e.g. the entry of a subject. */
export function parentMissing(policyId: string, parent: readonly string[]) {
  return PolicyErrors.notFound(policyId, parent);
}
