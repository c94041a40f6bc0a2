import { DomainError } from '../common/domain-error.js';
import { Errors } from '../common/errors.js';
import type { JournalAction } from '../journal/journal.types.js';
import { deleteAt, getAt, setAt, toPointer } from './model/json-pointer.js';
import { mergePatch, mergePatchAt } from './model/merge-patch.js';
import { parseThingId } from './model/thing-id.js';
import { serializeDoc } from './model/doc-json.js';
import {
  classifyPath,
  notFoundCodeFor,
  validateThingBody,
  validateValueAt,
} from './model/thing-validation.js';
import { dropStaleLeaves, nextLeafTimes, type LeafTimes } from './metadata.js';
import { checkPreconditions, entityTag } from './preconditions.js';
import type { StoredThing, ThingDoc, TwinCommand } from './twin.types.js';

export type Computed = ComputedChange | { noop: true; value: unknown };

export interface ComputedChange {
  noop?: undefined;
  /** The thing after the change; null when it was deleted. */
  next: StoredThing | null;
  action: JournalAction;
  status: 201 | 204;
  /** What the journal records: the new value, the merge patch, or nothing for a delete. */
  journalValue: unknown;
  /** The value now at the command's path. */
  value: unknown;
  /** The source times this change wrote, by leaf (journaled with it); undefined when none. */
  leafTimes?: LeafTimes;
}

/**
 * The twin state machine: from the current thing (or none) and a command, the next state.
 * Pure, so every rule is unit-testable; the service supplies locking, revision and storage.
 */
export function computeChange(
  current: StoredThing | null,
  cmd: TwinCommand,
  opts: { now: string; maxSize: number; nextRevision: number },
): Computed {
  const { namespace } = parseThingId(cmd.thingId);
  const sourceTime = cmd.type !== 'delete' ? cmd.sourceTime : undefined;
  const leafTimes = cmd.type !== 'delete' ? cmd.leafTimes : undefined;
  const timeOf = (pointer: string): string => leafTimes?.[pointer] ?? sourceTime ?? opts.now;
  const path = cmd.path;
  const currentValue = current ? (path.length === 0 ? current.doc : getAt(current.doc, path)) : undefined;
  // Only a conditional request needs the tags: a sub-resource's hashes its whole value, which
  // every device reading (a merge at /features) would otherwise pay for.
  if (cmd.preconditions) {
    checkPreconditions(
      {
        exists: currentValue !== undefined,
        thingTag: current ? entityTag(current.revision, [], null) : undefined,
        resourceTag:
          current && currentValue !== undefined ? entityTag(current.revision, path, currentValue) : undefined,
      },
      cmd.preconditions,
    );
  }

  if (!current) {
    if (path.length > 0 || cmd.type === 'delete') throw Errors.thingNotFound(cmd.thingId);
    const body = cmd.type === 'merge' ? mergePatch({}, cmd.value) : cmd.value;
    const doc = toDoc(body ?? {}, cmd.thingId, cmd.policyIdIfCreated);
    const meta = nextLeafTimes({}, 'replace', [], doc, timeOf);
    const next = stored(cmd.thingId, namespace, doc, opts.nextRevision, opts.now, opts.now, meta);
    checkSize(doc, opts.maxSize);
    // A new thing's times are all written by this change.
    return { next, action: 'created', status: 201, journalValue: doc, value: doc, leafTimes: nonEmpty(meta) };
  }

  if (cmd.type === 'create') throw Errors.conflict(cmd.thingId);
  const revision = opts.nextRevision;

  switch (cmd.type) {
    case 'delete': {
      if (path.length === 0) {
        return { next: null, action: 'deleted', status: 204, journalValue: undefined, value: undefined };
      }
      const kind = classifyPath(path).kind;
      if (kind === 'policyId') throw Errors.policyIdNotDeletable(cmd.thingId);
      const { root, existed } = deleteAt(current.doc, path);
      if (!existed) throw notFound(kind, cmd.thingId, path);
      const doc = root as ThingDoc;
      const meta = nextLeafTimes(current.metadata, 'delete', path, undefined, timeOf);
      return {
        next: stored(cmd.thingId, namespace, doc, revision, current.created, opts.now, meta),
        action: 'deleted',
        status: 204,
        journalValue: undefined,
        value: undefined,
      };
    }
    case 'modify': {
      let doc: ThingDoc;
      if (path.length === 0) {
        doc = toDoc(cmd.value, cmd.thingId, current.doc.policyId);
      } else {
        validateValueAt(path, cmd.value);
        requireParentFeature(current.doc, path, cmd.thingId);
        doc = toDoc(setAt(current.doc, path, cmd.value), cmd.thingId, current.doc.policyId);
      }
      checkSize(doc, opts.maxSize);
      const created = path.length > 0 && currentValue === undefined;
      const written: LeafTimes = {};
      const meta = nextLeafTimes(
        current.metadata,
        'replace',
        path,
        path.length === 0 ? doc : cmd.value,
        timeOf,
        written,
      );
      return {
        next: stored(cmd.thingId, namespace, doc, revision, current.created, opts.now, meta),
        action: created ? 'created' : 'modified',
        status: created ? 201 : 204,
        // The thing as stored (policyId kept or defaulted, thingId set), not the request body.
        journalValue: path.length === 0 ? doc : cmd.value,
        value: path.length === 0 ? doc : cmd.value,
        leafTimes: nonEmpty(written),
      };
    }
    case 'merge': {
      if (path.length > 0) classifyPath(path);
      if (
        path.length === 0 &&
        (cmd.value === null || typeof cmd.value !== 'object' || Array.isArray(cmd.value))
      ) {
        throw Errors.jsonInvalid('The merge patch for a Thing must be a JSON object.');
      }
      const timed = sourceTime !== undefined || leafTimes !== undefined;
      const patch = timed ? dropStaleLeaves(path, cmd.value, timeOf, current.metadata) : cmd.value;
      if (patch === undefined) return { noop: true, value: currentValue };
      const merged =
        path.length === 0 ? mergePatch(current.doc, patch) : mergePatchAt(current.doc, path, patch);
      const doc = toDoc(merged, cmd.thingId, current.doc.policyId);
      checkSize(doc, opts.maxSize);
      const written: LeafTimes = {};
      const meta = nextLeafTimes(current.metadata, 'merge', path, patch, timeOf, written);
      return {
        next: stored(cmd.thingId, namespace, doc, revision, current.created, opts.now, meta),
        action: 'merged',
        status: 204,
        journalValue: patch,
        value: path.length === 0 ? doc : getAt(doc, path),
        leafTimes: nonEmpty(written),
      };
    }
  }
}

/** Validates a whole-thing body and puts it in Ditto's field order with thingId and policyId set. */
function toDoc(body: unknown, thingId: string, currentPolicyId: string | undefined): ThingDoc {
  const t = validateThingBody(body, { thingId });
  const doc: ThingDoc = { thingId, policyId: t.policyId ?? currentPolicyId ?? thingId };
  if (t.definition !== undefined) doc.definition = t.definition;
  if (t.attributes !== undefined) doc.attributes = t.attributes;
  if (t.features !== undefined) doc.features = t.features;
  return doc;
}

function stored(
  thingId: string,
  namespace: string,
  doc: ThingDoc,
  revision: number,
  created: string,
  modified: string,
  metadata: LeafTimes,
): StoredThing {
  return { thingId, namespace, doc, revision, created, modified, metadata };
}

function nonEmpty(times: LeafTimes): LeafTimes | undefined {
  return Object.keys(times).length > 0 ? times : undefined;
}

function checkSize(doc: ThingDoc, max: number): void {
  const size = Buffer.byteLength(serializeDoc(doc), 'utf8');
  if (size > max) throw Errors.tooLarge(size, max);
}

/** Ditto does not create a feature implicitly when one of its parts is written. */
function requireParentFeature(doc: ThingDoc, path: string[], thingId: string): void {
  if (path[0] === 'features' && path.length > 2 && doc.features?.[path[1]] === undefined) {
    throw notFound('feature', thingId, path.slice(0, 2));
  }
}

function notFound(kind: Parameters<typeof notFoundCodeFor>[0], thingId: string, path: string[]): DomainError {
  return Errors.resourceNotFound(notFoundCodeFor(kind), thingId, `resource '${toPointer(path)}'`);
}
