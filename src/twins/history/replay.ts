import type { JournalEntry } from '../../journal/journal.types.js';
import { deleteAt, getAt, isJsonObject, parsePointer, setAt } from '../model/json-pointer.js';
import { mergePatch, mergePatchAt } from '../model/merge-patch.js';
import { replayLeafTimes, type LeafTimes } from '../metadata.js';
import type { ThingDoc } from '../twin.types.js';

/** A thing as it was after one revision: the document, or null when it did not exist then. */
export interface HistoricalState {
  thingId: string;
  revision: number;
  doc: ThingDoc | null;
  /** When the thing (as it was then) was created; null while it did not exist. */
  created: string | null;
  /** When the change that made this revision was written. */
  modified: string;
  /** The leaves' source times at this revision (`_metadata`), replayed from the journaled ones. */
  metadata: LeafTimes;
}

/** The state before a thing's first revision: it did not exist. */
export function initialState(thingId: string): HistoricalState {
  return {
    thingId,
    revision: 0,
    doc: null,
    created: null,
    modified: new Date(0).toISOString(),
    metadata: {},
  };
}

/** Revision order is the order of the changes, so this is the only order replay accepts. */
export class ReplayGapError extends Error {
  constructor(
    readonly expected: number,
    readonly found: number,
  ) {
    super(`journal replay expected revision ${expected} but found ${found}`);
  }
}

/**
 * The state after `entry`, from the state before it: the twin write path's change, redone from
 * what the journal recorded. A write of the whole thing ('created'/'modified' at '/') replaces it,
 * a write below sets the value there, 'merged' applies the RFC 7396 patch the journal holds at its
 * path, 'deleted' removes the path ('/' the thing). The document is normalized as the write path
 * stores it (thingId kept, policyId kept when a patch removed it, Ditto's field order).
 */
export function applyEntry(state: HistoricalState, entry: JournalEntry): HistoricalState {
  if (entry.revision !== state.revision + 1) throw new ReplayGapError(state.revision + 1, entry.revision);
  const path = entry.path === '/' || entry.path === '' ? [] : parsePointer(entry.path);
  const base = {
    thingId: state.thingId,
    revision: entry.revision,
    modified: entry.timestamp,
    metadata: replayLeafTimes(state.metadata, entry.action, path, entry.value, entry.leafTimes),
  };
  if (path.length === 0) {
    switch (entry.action) {
      case 'deleted':
        return { ...base, doc: null, created: null };
      case 'created':
      case 'modified':
        return {
          ...base,
          doc: normalized(entry.value, state.thingId, undefined),
          // A whole-thing write to a missing thing creates it (the journal says 'created' then).
          created: state.doc && entry.action === 'modified' ? state.created : entry.timestamp,
        };
      case 'merged':
        return {
          ...base,
          doc: normalized(mergePatch(state.doc ?? {}, entry.value), state.thingId, state.doc?.policyId),
          created: state.doc ? state.created : entry.timestamp,
        };
    }
  }
  // A change below the thing needs the thing; the write path refuses it otherwise, so a journal
  // holding one is corrupt rather than something to paper over.
  if (!state.doc) throw new Error(`journal entry at ${entry.path} for a thing that did not exist`);
  let next: unknown;
  switch (entry.action) {
    case 'created':
    case 'modified':
      next = setAt(state.doc, path, entry.value);
      break;
    case 'merged':
      next = mergePatchAt(state.doc, path, entry.value);
      break;
    case 'deleted':
      next = deleteAt(state.doc, path).root;
      break;
  }
  return { ...base, doc: normalized(next, state.thingId, state.doc.policyId), created: state.created };
}

/** Applies entries in order; they must continue `state` without a gap. */
export function replay(state: HistoricalState, entries: readonly JournalEntry[]): HistoricalState {
  let s = state;
  for (const e of entries) s = applyEntry(s, e);
  return s;
}

/** The value at a path of a historical document (the document itself for []). */
export function historicalValueAt(doc: ThingDoc, path: readonly string[]): unknown {
  return path.length === 0 ? doc : getAt(doc, path);
}

/** As the write path's toDoc, without validation: the journal only holds validated writes. */
function normalized(value: unknown, thingId: string, policyId: string | undefined): ThingDoc {
  const body = isJsonObject(value) ? value : {};
  const doc: ThingDoc = {
    thingId,
    policyId: typeof body.policyId === 'string' ? body.policyId : (policyId ?? thingId),
  };
  if (body.definition !== undefined) doc.definition = body.definition as ThingDoc['definition'];
  if (body.attributes !== undefined) doc.attributes = body.attributes as ThingDoc['attributes'];
  if (body.features !== undefined) doc.features = body.features as ThingDoc['features'];
  return doc;
}
