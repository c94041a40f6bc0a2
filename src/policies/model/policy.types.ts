import type { Permission, ResourceType } from '../policy-enforcer.js';

/** Ditto's policy JSON, as stored and as the API returns it (without system fields). */
export interface PolicyJson {
  policyId: string;
  entries: Record<string, PolicyEntryJson>;
  imports?: Record<string, PolicyImportJson>;
}

export type Importable = 'implicit' | 'explicit' | 'never';

export interface PolicyEntryJson {
  subjects: Record<string, SubjectJson>;
  resources: Record<string, ResourceJson>;
  /** Namespace patterns the entry applies to (`com.acme`, `com.acme.*`); absent or empty: all. */
  namespaces?: string[];
  importable?: Importable;
}

export interface SubjectJson {
  type: string;
  /** ISO 8601; once past, the subject no longer counts. */
  expiry?: string;
  announcement?: Record<string, unknown>;
}

export interface ResourceJson {
  grant: Permission[];
  revoke: Permission[];
}

export interface PolicyImportJson {
  /** Labels of `explicit` entries to import in addition to the `implicit` ones. */
  entries?: string[];
}

/** A resource key `thing:/features/x` split into its type and path segments. */
export interface ResourceKey {
  type: ResourceType;
  path: string[];
}

export const PERMISSIONS: readonly Permission[] = ['READ', 'WRITE', 'EXECUTE'];
export const RESOURCE_TYPES: readonly ResourceType[] = ['thing', 'policy', 'message'];
