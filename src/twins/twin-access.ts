import type { AuthContext } from '../auth/auth-context.js';
import { DomainError } from '../common/domain-error.js';
import { Errors } from '../common/errors.js';
import type { PolicyEnforcer } from '../policies/policy-enforcer.js';
import { isJsonObject, toPointer } from './model/json-pointer.js';
import { classifyPath, type PathKind } from './model/thing-validation.js';
import type { TwinCommand } from './twin.types.js';

/**
 * Ditto's enforcement of twin commands against the thing's policy, as pure functions: the service
 * supplies the compiled policy, these decide. A subject that may not read any part of a thing is
 * told the thing does not exist (Ditto's "not found or insufficient permissions"); one that may
 * read but not write gets the resource's `*.notmodifiable` 403.
 */

const NOT_MODIFIABLE: Record<PathKind, string> = {
  thing: 'things:thing.notmodifiable',
  policyId: 'things:policyId.notmodifiable',
  definition: 'things:definition.notmodifiable',
  attributes: 'things:attributes.notmodifiable',
  attribute: 'things:attribute.notmodifiable',
  features: 'things:features.notmodifiable',
  feature: 'things:feature.notmodifiable',
  featureDefinition: 'things:feature.definition.notmodifiable',
  properties: 'things:feature.properties.notmodifiable',
  property: 'things:feature.property.notmodifiable',
  desiredProperties: 'things:feature.desiredProperties.notmodifiable',
  desiredProperty: 'things:feature.desiredProperty.notmodifiable',
};

/** Bounds the paths a partially permitted merge patch is checked at, one by one. */
const MAX_PATCH_PATHS = 10_000;

/**
 * Whether `auth` may apply `cmd` to an existing thing governed by `enforcer` (null: its policy is
 * gone, so nobody may). Returns the error to answer, or undefined when permitted.
 */
export function denyWrite(
  cmd: TwinCommand,
  enforcer: PolicyEnforcer | null,
  auth: AuthContext,
): DomainError | undefined {
  const subjects = auth.subjects;
  if (enforcer && permitsWrite(cmd, enforcer, subjects)) return undefined;
  if (!enforcer || !enforcer.hasPartial('thing', [], subjects, 'READ')) {
    return Errors.thingNotFound(cmd.thingId);
  }
  return notModifiable(cmd.thingId, cmd.path);
}

function permitsWrite(cmd: TwinCommand, enforcer: PolicyEnforcer, subjects: readonly string[]): boolean {
  if (enforcer.hasUnrestricted('thing', cmd.path, subjects, 'WRITE')) return true;
  // Ditto checks a merge patch path by path: a subject may merge into the parts it may write.
  if (cmd.type !== 'merge') return false;
  const paths = patchPaths(cmd.path, cmd.value);
  return paths !== undefined && paths.every((p) => enforcer.hasUnrestricted('thing', p, subjects, 'WRITE'));
}

/**
 * The paths a merge patch sets or deletes: every non-object value (null deletes) and every empty
 * object. Undefined when there are more than MAX_PATCH_PATHS (then only a root grant permits it).
 */
export function patchPaths(base: readonly string[], patch: unknown): string[][] | undefined {
  const out: string[][] = [];
  const stack: { path: string[]; value: unknown }[] = [{ path: [...base], value: patch }];
  while (stack.length > 0) {
    const { path, value } = stack.pop()!;
    const keys = isJsonObject(value) ? Object.keys(value) : [];
    if (keys.length === 0) {
      out.push(path);
      if (out.length > MAX_PATCH_PATHS) return undefined;
      continue;
    }
    for (const k of keys) stack.push({ path: [...path, k], value: (value as Record<string, unknown>)[k] });
  }
  return out;
}

/** Creating a thing that links an existing policy needs WRITE on `thing:/` in that policy. */
export function denyCreateWith(
  thingId: string,
  enforcer: PolicyEnforcer,
  auth: AuthContext,
): DomainError | undefined {
  if (enforcer.hasUnrestricted('thing', [], auth.subjects, 'WRITE')) return undefined;
  return new DomainError(
    403,
    'things:thing.notcreatable',
    `The Thing with ID '${thingId}' could not be created as the requester had insufficient permissions on the Policy with ID '${enforcer.policyId}'.`,
    "Link a Policy that grants you WRITE on 'thing:/', or leave out the policyId to get a new default Policy.",
  );
}

/**
 * What of the value at `path` the subjects may read, or the not-found error Ditto answers when
 * nothing (so an unreadable thing or part looks exactly like a missing one).
 */
export function readableOr404(
  thingId: string,
  path: readonly string[],
  value: unknown,
  enforcer: PolicyEnforcer | null,
  auth: AuthContext,
  notFound: () => DomainError,
): unknown {
  if (!enforcer || !enforcer.hasPartial('thing', [], auth.subjects, 'READ'))
    throw Errors.thingNotFound(thingId);
  const visible = enforcer.readable('thing', path, value, auth.subjects);
  if (visible === undefined) throw notFound();
  return visible;
}

function notModifiable(thingId: string, path: readonly string[]): DomainError {
  let kind: PathKind = 'thing';
  try {
    kind = classifyPath(path).kind;
  } catch {
    // An invalid path was refused before enforcement ever runs; keep the thing-level code.
  }
  return new DomainError(
    403,
    NOT_MODIFIABLE[kind],
    path.length === 0
      ? `The Thing with ID '${thingId}' could not be modified as the requester had insufficient permissions to modify it.`
      : `The resource '${toPointer([...path])}' of the Thing with ID '${thingId}' could not be modified as the requester had insufficient permissions to modify it.`,
    'Check if the ID of the Thing and the path were correct and you have sufficient permissions.',
  );
}
