import type { JournalEntry } from '../journal/journal.types.js';
import { DittoCallError, type DittoFailure } from './ditto-gateway.js';
import { policyIdLinked } from './policy-ops.js';
import { policyBeforeThing } from './policy-sync.js';
import type { SyncContext } from './sync-context.js';
import type { ItemResult } from './sync-lanes.js';
import { content, correlationIdFor, needsIdentity, toWireOp, withIdentity } from './sync-ops.js';

/**
 * Delivers one local change to Ditto, in its thing's lane. Each entry becomes the same request on
 * the same path; a thing Ditto no longer has is repaired with a PUT of the whole local thing.
 */
export async function deliverEntry(ctx: SyncContext, entry: JournalEntry): Promise<ItemResult> {
  const synced = await ctx.syncedRevision(entry.thingId);
  if (synced !== undefined && entry.revision <= synced) return { done: true };
  if (entry.origin === 'ditto') {
    // Came from Ditto: it has it already. Recorded so a restart does not look at it again.
    ctx.markSynced(entry.thingId, entry.revision);
    return { done: true };
  }
  let op = toWireOp(entry);
  if (needsIdentity(op)) op = withIdentity(op, await ctx.policyIdOf(entry.thingId));
  const policyId = policyIdLinked({ action: op.verb, path: op.path, value: op.body });
  const waiting = await policyBeforeThing(ctx, entry.thingId, entry.revision, policyId);
  if (waiting) return waiting;
  try {
    await ctx.send(op, correlationIdFor(entry));
    ctx.delivered(entry.thingId, entry.revision);
    return { done: true };
  } catch (err) {
    const failure = failureOf(err);
    if (failure.kind !== 'rejected') return ctx.retryLater(entry.thingId, failure);
    if (failure.status === 404 && op.verb === 'DELETE') {
      ctx.delivered(entry.thingId, entry.revision);
      return { done: true };
    }
    if (failure.status === 404) return repair(ctx, entry);
    ctx.rejected(entry.thingId, entry.revision, failure);
    return { done: true };
  }
}

/** Ditto lacks the thing (deleted there, or never created): give it the whole local thing. */
async function repair(ctx: SyncContext, entry: JournalEntry): Promise<ItemResult> {
  const local = await ctx.local(entry.thingId);
  if (!local) {
    ctx.delivered(entry.thingId, entry.revision);
    return { done: true };
  }
  const policyId = typeof local.view.policyId === 'string' ? local.view.policyId : undefined;
  const waiting = await policyBeforeThing(ctx, entry.thingId, entry.revision, policyId);
  if (waiting) return waiting;
  try {
    await ctx.send(
      {
        verb: 'PUT',
        thingId: entry.thingId,
        path: [],
        body: content(local.view),
      },
      correlationIdFor({ thingId: entry.thingId, revision: local.revision }),
    );
    // The PUT carried every change up to the revision read, so those entries are done as well.
    ctx.delivered(entry.thingId, Math.max(entry.revision, local.revision));
    return { done: true };
  } catch (err) {
    const failure = failureOf(err);
    if (failure.kind !== 'rejected') return ctx.retryLater(entry.thingId, failure);
    ctx.rejected(entry.thingId, entry.revision, failure);
    return { done: true };
  }
}

export function failureOf(err: unknown): DittoFailure {
  if (err instanceof DittoCallError) return err.failure;
  throw err;
}
