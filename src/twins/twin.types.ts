import type { AuthContext } from '../auth/auth-context.js';
import type { ChangeOrigin, JournalEntry } from '../journal/journal.types.js';
import type { LeafTimes } from './metadata.js';

/** The Thing JSON as Ditto returns it, without system fields. */
export interface ThingDoc {
  thingId: string;
  policyId: string;
  definition?: string | null;
  attributes?: Record<string, unknown>;
  features?: Record<string, FeatureDoc>;
}

export interface FeatureDoc {
  definition?: string[];
  properties?: Record<string, unknown>;
  desiredProperties?: Record<string, unknown>;
}

/** A twin as stored: the document plus the system fields Ditto exposes as `_revision` etc. */
export interface StoredThing {
  thingId: string;
  namespace: string;
  doc: ThingDoc;
  revision: number;
  created: string;
  modified: string;
  /** Source time of each leaf under attributes and features (see metadata.ts). */
  metadata: LeafTimes;
}

/** Conditional-request headers (RFC 7232) as they arrived; checked inside the write transaction. */
export interface Preconditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

interface CommandBase {
  thingId: string;
  /** Path inside the thing as segments; [] is the thing itself. */
  path: string[];
  origin: ChangeOrigin;
  /**
   * Who asks, enforced against the thing's policy. Absent for the platform's own writers (the
   * ingest, the Ditto sync), which act as the system and need no grant.
   */
  auth?: AuthContext;
  /** The policy a thing this command creates links when its body names none (default: the thing id). */
  policyIdIfCreated?: string;
  correlationId?: string;
  preconditions?: Preconditions;
  /**
   * When the data was measured (device time, ISO 8601). A merge leaves out every leaf whose
   * stored value is newer, so late readings never overwrite fresher ones. Defaults to now.
   */
  sourceTime?: string;
  /** Per-leaf source times (full pointers), for a merge that combines readings of different times. */
  leafTimes?: LeafTimes;
}

/**
 * What any entry point (REST, MQTT, WebSocket, Ditto sync) asks the twin service to do.
 * - modify: PUT, creates the thing or the path when absent
 * - create: POST /things, fails when the thing exists
 * - merge: PATCH with an RFC 7396 merge patch
 * - delete: DELETE
 */
export type TwinCommand =
  | (CommandBase & { type: 'modify'; value: unknown })
  | (CommandBase & { type: 'create'; value: unknown })
  | (CommandBase & { type: 'merge'; value: unknown })
  | (CommandBase & { type: 'delete' });

export interface TwinChange {
  /** 201 when the command created the thing or the path, else 204 (Ditto's rule). */
  status: 201 | 204;
  thing: StoredThing | null;
  /** The value now at the command's path (undefined after a delete). */
  value: unknown;
  /** Null when the command changed nothing (every leaf of a timed merge was stale). */
  entry: JournalEntry | null;
}
