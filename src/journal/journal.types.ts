/** Ditto's event actions; the journal speaks them so consumers map 1:1 onto Ditto protocol events. */
export type JournalAction = 'created' | 'modified' | 'merged' | 'deleted';

/** Where a change came from; consumers use it to avoid echoing changes back to their source. */
export type ChangeOrigin = 'rest' | 'mqtt' | 'ws' | 'ditto' | 'system';

/** One change to one twin, as written by the twin service in the same transaction as the change. */
export interface JournalEntry {
  /** Global, gap-tolerant, commit-ordered sequence: safe to resume from. */
  seq: string;
  /**
   * 'policy' for a change to a policy (then thingId holds the policy id and path points into the
   * policy); absent for a thing, so the twin write paths never set it.
   */
  entity?: 'policy';
  thingId: string;
  /**
   * A thing change: the policy governing the thing as written (before a deletion of the whole
   * thing, after any other change), so readers decide who may see it. Absent on policy changes.
   */
  policyId?: string;
  revision: number;
  action: JournalAction;
  /** JSON pointer of the changed resource inside the thing, '/' for the whole thing. */
  path: string;
  value: unknown;
  /**
   * The source times the change wrote, by leaf pointer (twins/metadata.ts `LeafTimes`): only the
   * changed leaves. Absent when it wrote none (deletions, policy changes) and on entries journaled
   * before times were (migration JournalLeafTimes).
   */
  leafTimes?: Record<string, string>;
  timestamp: string;
  origin: ChangeOrigin;
  correlationId: string | null;
}

export type NewJournalEntry = Omit<JournalEntry, 'seq'>;
