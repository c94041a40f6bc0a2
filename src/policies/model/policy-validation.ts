import { Errors, PolicyErrors } from '../../common/errors.js';
import { isValidNamespace, parsePolicyId } from '../../twins/model/thing-id.js';
import type { Permission } from '../policy-enforcer.js';
import {
  PERMISSIONS,
  type Importable,
  type PolicyEntryJson,
  type PolicyImportJson,
  type PolicyJson,
  type ResourceJson,
  type SubjectJson,
} from './policy.types.js';
import { parseResourceKey } from './resource-key.js';

/** Bounds on what one policy may hold, so evaluation and storage stay cheap. */
export const POLICY_LIMITS = {
  entries: 1000,
  subjectsPerEntry: 1000,
  resourcesPerEntry: 1000,
  namespacesPerEntry: 100,
  imports: 10,
  importedLabels: 100,
  labelLength: 256,
  subjectIdLength: 256,
  typeLength: 256,
} as const;

const ENTRY_KEYS = new Set(['subjects', 'resources', 'namespaces', 'importable']);
const IMPORTABLE: readonly Importable[] = ['implicit', 'explicit', 'never'];
/** Fields Ditto answers with but never takes as input (`_revision`, `_created`, …). */
const isSystemField = (k: string) => k.startsWith('_');

/**
 * A whole policy from a request body. The id comes from the URL: Ditto ignores a policyId in
 * the body of a PUT. Unknown fields, `references` and `transitiveImports` are refused rather than
 * stored and ignored, so no one relies on semantics this platform does not evaluate.
 */
export function validatePolicy(policyId: string, raw: unknown): PolicyJson {
  parsePolicyId(policyId);
  const body = object(raw, () => Errors.jsonInvalid('The Policy must be a JSON object.'));
  for (const key of Object.keys(body)) {
    if (key !== 'policyId' && key !== 'entries' && key !== 'imports' && !isSystemField(key))
      throw Errors.jsonInvalid(`The Policy field '${key.slice(0, 100)}' is not supported.`);
  }
  if (body.entries === undefined) throw Errors.jsonInvalid("The Policy must contain the field 'entries'.");
  const policy: PolicyJson = { policyId, entries: validateEntries(body.entries) };
  if (body.imports !== undefined) policy.imports = validateImports(body.imports, policyId);
  return policy;
}

export function validateEntries(raw: unknown): Record<string, PolicyEntryJson> {
  const body = object(raw, () => PolicyErrors.entryInvalid("The Policy's 'entries' must be a JSON object."));
  const keys = Object.keys(body);
  if (keys.length > POLICY_LIMITS.entries)
    throw PolicyErrors.entryInvalid(`A Policy holds at most ${POLICY_LIMITS.entries} entries.`);
  const entries: Record<string, PolicyEntryJson> = {};
  for (const label of keys) define(entries, validateLabel(label), validateEntry(body[label]));
  return entries;
}

export function validateLabel(label: string): string {
  if (
    label.length === 0 ||
    label.length > POLICY_LIMITS.labelLength ||
    label.includes('/') ||
    label.startsWith('imported')
  )
    throw PolicyErrors.labelInvalid(label);
  if (hasControl(label)) throw PolicyErrors.labelInvalid(label);
  return label;
}

export function validateEntry(raw: unknown): PolicyEntryJson {
  const body = object(raw, () => PolicyErrors.entryInvalid('A Policy entry must be a JSON object.'));
  for (const key of Object.keys(body)) {
    if (!ENTRY_KEYS.has(key))
      throw PolicyErrors.entryInvalid(`The Policy entry field '${key.slice(0, 100)}' is not supported.`);
  }
  const entry: PolicyEntryJson = {
    subjects: body.subjects === undefined ? {} : validateSubjects(body.subjects),
    resources: body.resources === undefined ? {} : validateResources(body.resources),
  };
  if (body.namespaces !== undefined) entry.namespaces = validateNamespaces(body.namespaces);
  if (body.importable !== undefined) entry.importable = validateImportable(body.importable);
  return entry;
}

export function validateSubjects(raw: unknown): Record<string, SubjectJson> {
  const body = object(raw, () =>
    PolicyErrors.entryInvalid("A Policy entry's 'subjects' must be a JSON object."),
  );
  const keys = Object.keys(body);
  if (keys.length > POLICY_LIMITS.subjectsPerEntry)
    throw PolicyErrors.entryInvalid(
      `A Policy entry holds at most ${POLICY_LIMITS.subjectsPerEntry} subjects.`,
    );
  const subjects: Record<string, SubjectJson> = {};
  for (const id of keys) define(subjects, validateSubjectId(id), validateSubject(body[id]));
  return subjects;
}

/** `<issuer>:<subject>`, both non-empty. */
export function validateSubjectId(id: string): string {
  const colon = id.indexOf(':');
  if (colon <= 0 || colon === id.length - 1 || id.length > POLICY_LIMITS.subjectIdLength || hasControl(id))
    throw PolicyErrors.subjectIdInvalid(id);
  return id;
}

export function validateSubject(raw: unknown): SubjectJson {
  const body = object(raw, () =>
    PolicyErrors.entryInvalid("A Policy subject must be a JSON object with a 'type'."),
  );
  if (typeof body.type !== 'string' || body.type.length > POLICY_LIMITS.typeLength)
    throw PolicyErrors.entryInvalid("A Policy subject must have a string 'type' of at most 256 characters.");
  const subject: SubjectJson = { type: body.type };
  if (body.expiry !== undefined) {
    if (typeof body.expiry !== 'string' || !isIsoTimestamp(body.expiry))
      throw PolicyErrors.subjectExpiryInvalid(JSON.stringify(body.expiry) ?? 'undefined');
    subject.expiry = new Date(body.expiry).toISOString();
  }
  if (body.announcement !== undefined) {
    subject.announcement = object(body.announcement, () =>
      PolicyErrors.entryInvalid("A Policy subject's 'announcement' must be a JSON object."),
    );
  }
  for (const key of Object.keys(body)) {
    if (key !== 'type' && key !== 'expiry' && key !== 'announcement')
      throw PolicyErrors.entryInvalid(`The Policy subject field '${key.slice(0, 100)}' is not supported.`);
  }
  return subject;
}

export function validateResources(raw: unknown): Record<string, ResourceJson> {
  const body = object(raw, () =>
    PolicyErrors.entryInvalid("A Policy entry's 'resources' must be a JSON object."),
  );
  const keys = Object.keys(body);
  if (keys.length > POLICY_LIMITS.resourcesPerEntry)
    throw PolicyErrors.entryInvalid(
      `A Policy entry holds at most ${POLICY_LIMITS.resourcesPerEntry} resources.`,
    );
  const resources: Record<string, ResourceJson> = {};
  for (const key of keys) {
    parseResourceKey(key);
    define(resources, key, validateResource(body[key]));
  }
  return resources;
}

export function validateResource(raw: unknown): ResourceJson {
  const body = object(raw, () =>
    PolicyErrors.entryInvalid("A Policy resource must be a JSON object with 'grant' and 'revoke'."),
  );
  for (const key of Object.keys(body)) {
    if (key !== 'grant' && key !== 'revoke')
      throw PolicyErrors.entryInvalid(`The Policy resource field '${key.slice(0, 100)}' is not supported.`);
  }
  return { grant: permissions(body.grant, 'grant'), revoke: permissions(body.revoke, 'revoke') };
}

function permissions(raw: unknown, field: string): Permission[] {
  // Ditto's own examples write `"revoke": null` for "none".
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.some((p) => !PERMISSIONS.includes(p as Permission)))
    throw PolicyErrors.entryInvalid(
      `The '${field}' of a Policy resource must be an array of READ, WRITE, EXECUTE.`,
    );
  return [...new Set(raw as Permission[])];
}

export function validateNamespaces(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length > POLICY_LIMITS.namespacesPerEntry)
    throw PolicyErrors.entryInvalid(
      `A Policy entry's 'namespaces' must be an array of at most ${POLICY_LIMITS.namespacesPerEntry} patterns.`,
    );
  for (const p of raw) {
    const base = typeof p === 'string' && p.endsWith('.*') ? p.slice(0, -2) : p;
    if (typeof base !== 'string' || base.length === 0 || !isValidNamespace(base))
      throw PolicyErrors.entryInvalid(`The namespace pattern '${String(p).slice(0, 100)}' is invalid.`);
  }
  return [...new Set(raw as string[])];
}

export function validateImportable(raw: unknown): Importable {
  if (!IMPORTABLE.includes(raw as Importable))
    throw PolicyErrors.entryInvalid(
      "A Policy entry's 'importable' must be 'implicit', 'explicit' or 'never'.",
    );
  return raw as Importable;
}

export function validateImports(raw: unknown, policyId: string): Record<string, PolicyImportJson> {
  const body = object(raw, () => PolicyErrors.importInvalid("The Policy's 'imports' must be a JSON object."));
  const keys = Object.keys(body);
  if (keys.length > POLICY_LIMITS.imports) throw PolicyErrors.importsTooLarge(POLICY_LIMITS.imports);
  const imports: Record<string, PolicyImportJson> = {};
  for (const id of keys) define(imports, id, validateImport(id, body[id], policyId));
  return imports;
}

export function validateImport(importedId: string, raw: unknown, policyId: string): PolicyImportJson {
  parsePolicyId(importedId);
  if (importedId === policyId)
    throw PolicyErrors.importInvalid(`The Policy '${policyId}' cannot import itself.`);
  const body = object(raw, () => PolicyErrors.importInvalid('A Policy import must be a JSON object.'));
  for (const key of Object.keys(body)) {
    if (key !== 'entries')
      throw PolicyErrors.importInvalid(`The Policy import field '${key.slice(0, 100)}' is not supported.`);
  }
  if (body.entries === undefined) return {};
  if (
    !Array.isArray(body.entries) ||
    body.entries.length > POLICY_LIMITS.importedLabels ||
    body.entries.some((l) => typeof l !== 'string')
  )
    throw PolicyErrors.importInvalid(
      `The 'entries' of a Policy import must be an array of at most ${POLICY_LIMITS.importedLabels} labels.`,
    );
  return { entries: [...new Set((body.entries as string[]).map(validateLabel))] };
}

function object(raw: unknown, error: () => Error): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw error();
  return raw as Record<string, unknown>;
}

/** Own data property even for `__proto__`. */
function define<T>(into: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) === 0x7f) return true;
  return false;
}

/** A date-time with a time zone, as `expiry` must be; checked by Date.parse after a shape test. */
function isIsoTimestamp(s: string): boolean {
  if (s.length > 40 || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(s))
    return false;
  return !Number.isNaN(Date.parse(s));
}
