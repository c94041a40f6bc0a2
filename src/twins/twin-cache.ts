import type { StoredThing } from './twin.types.js';

/**
 * The committed state of recently written things, by thing id, so that a batch writing them
 * again (the ingest writes the same devices batch after batch) need not read their documents
 * back: the row lock still comes from the database, with the revision, and an entry is used
 * only if it holds exactly that revision. Every change bumps the revision (a re-created thing
 * continues the old numbers), so a matching entry is the stored state, whichever replica wrote
 * last. Entries are only added after their transaction committed, and are never modified:
 * states are immutable once computed. Least recently used entries go first when the budget of
 * serialized bytes is exceeded.
 */
export class TwinCache {
  private readonly entries = new Map<string, { thing: StoredThing; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    /** Larger things are not kept: one of them would displace many small ones. */
    private readonly maxEntryBytes: number,
  ) {}

  /** The entries of these things, as they are now (later changes to the cache do not affect it). */
  snapshot(thingIds: readonly string[]): Map<string, StoredThing> {
    const out = new Map<string, StoredThing>();
    for (const id of thingIds) {
      const entry = this.entries.get(id);
      if (!entry) continue;
      out.set(id, entry.thing);
      // Re-inserted so iteration order is least recently used first.
      this.entries.delete(id);
      this.entries.set(id, entry);
    }
    return out;
  }

  remember(thing: StoredThing, bytes: number | undefined): void {
    this.forget(thing.thingId);
    if (bytes === undefined || bytes > this.maxEntryBytes) return;
    this.entries.set(thing.thingId, { thing, bytes });
    this.bytes += bytes;
    for (const [id, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(id);
      this.bytes -= entry.bytes;
    }
  }

  forget(thingId: string): void {
    const entry = this.entries.get(thingId);
    if (!entry) return;
    this.entries.delete(thingId);
    this.bytes -= entry.bytes;
  }
}
