import { DomainError } from '../common/domain-error.js';
import type { JournalEntry } from '../journal/journal.types.js';
import { DittoCallError } from './ditto-gateway.js';
import { failureOf } from './outbound.js';
import { policyFromDitto, policyKey, samePolicy } from './policy-ops.js';
import type { SyncContext } from './sync-context.js';
import type { ItemResult } from './sync-lanes.js';
import { correlationIdFor } from './sync-ops.js';

/**
 * Policies both ways. Outbound, every change of a policy here makes Ditto hold the whole policy
 * as it is now (one PUT, or a DELETE): repeating it is harmless, so at-least-once delivery needs
 * no more. Inbound, Ditto streams no policy events over the WebSocket the sync listens on, so
 * Ditto's policies are read: the one a thing links before that thing is applied or sent, and
 * every tracked policy on each (re)connect and periodically.
 */

/** Delivers one local policy change to Ditto, in the policy's lane. */
export async function deliverPolicyEntry(ctx: SyncContext, entry: JournalEntry): Promise<ItemResult> {
  const key = policyKey(entry.thingId);
  const synced = await ctx.syncedRevision(key);
  if (synced !== undefined && entry.revision <= synced) return { done: true };
  if (entry.origin === 'ditto') {
    // Taken over from Ditto: it has it already.
    ctx.markSynced(key, entry.revision);
    return { done: true };
  }
  return pushPolicy(ctx, entry.thingId, entry.revision);
}

/** Makes Ditto hold the local policy as it is now, or not at all when it is gone here. */
async function pushPolicy(ctx: SyncContext, policyId: string, revision: number): Promise<ItemResult> {
  const key = policyKey(policyId);
  try {
    const local = await ctx.localPolicies.get(policyId);
    if (!local) {
      await ctx.gateway.deletePolicy(policyId, correlationIdFor({ thingId: key, revision }));
      ctx.policiesInDitto.delete(policyId);
      ctx.delivered(key, revision);
    } else {
      // Ditto refuses a policy importing one it does not have.
      for (const imported of Object.keys(local.doc.imports ?? {})) await ensureInDitto(ctx, imported);
      await ctx.gateway.putPolicy(
        policyId,
        local.doc,
        correlationIdFor({ thingId: key, revision: local.revision }),
      );
      ctx.policiesInDitto.add(policyId);
      // The PUT carried every change up to the revision read.
      ctx.delivered(key, Math.max(revision, local.revision));
    }
    ctx.stats.policiesDelivered++;
    return { done: true };
  } catch (err) {
    const failure = failureOf(err);
    if (failure.kind !== 'rejected') return ctx.retryLater(key, failure);
    ctx.rejected(key, revision, failure, false);
    return { done: true };
  }
}

/**
 * Before a thing linking `policyId` goes to Ditto: Ditto would give a thing linking a missing
 * policy a default policy of its own, so ours goes first, created only (If-None-Match), leaving
 * a policy Ditto has to the policy's own lane and reconcile. Throws DittoCallError.
 */
export async function ensureInDitto(
  ctx: SyncContext,
  policyId: string,
  seen = new Set<string>(),
): Promise<void> {
  ctx.trackedPolicies.add(policyId);
  if (ctx.policiesInDitto.has(policyId) || seen.has(policyId)) return;
  seen.add(policyId);
  const local = await ctx.localPolicies.get(policyId);
  if (!local) return;
  for (const imported of Object.keys(local.doc.imports ?? {})) await ensureInDitto(ctx, imported, seen);
  const key = policyKey(policyId);
  const created = await ctx.gateway.putPolicy(
    policyId,
    local.doc,
    correlationIdFor({ thingId: key, revision: local.revision }),
    true,
  );
  ctx.policiesInDitto.add(policyId);
  if (created) {
    ctx.markSynced(key, local.revision);
    ctx.stats.policiesDelivered++;
  }
}

/**
 * For a thing change going out: its policy first. Undefined when the thing may follow; otherwise
 * what the thing's lane does (wait and retry, or give the change up as refused).
 */
export async function policyBeforeThing(
  ctx: SyncContext,
  thingId: string,
  revision: number,
  policyId: string | undefined,
): Promise<ItemResult | undefined> {
  if (policyId === undefined) return undefined;
  try {
    await ensureInDitto(ctx, policyId);
    return undefined;
  } catch (err) {
    const failure = failureOf(err);
    if (failure.kind !== 'rejected') return ctx.retryLater(thingId, failure);
    ctx.rejected(thingId, revision, failure);
    return { done: true };
  }
}

/**
 * Before a thing from Ditto is applied here: the policy it links, taken from Ditto when the
 * platform lacks it, so the thing is governed here as there. Undefined when the thing may
 * follow; a retry when Ditto could not be asked. A policy the platform cannot hold is reported
 * and the thing applied all the same (its data must not fall behind for it).
 */
export async function policyBeforeLocalThing(
  ctx: SyncContext,
  thingId: string,
  policyId: string | undefined,
): Promise<ItemResult | undefined> {
  if (policyId === undefined) return undefined;
  try {
    await ensureLocal(ctx, policyId);
    return undefined;
  } catch (err) {
    if (err instanceof DittoCallError) {
      const failure = err.failure;
      if (failure.kind !== 'rejected') return ctx.retryLater(thingId, failure);
      return undefined;
    }
    if (!(err instanceof DomainError)) throw err;
    ctx.inboundRejected({ thingId: policyKey(policyId), path: [] }, err);
    return undefined;
  }
}

async function ensureLocal(ctx: SyncContext, policyId: string, seen = new Set<string>()): Promise<void> {
  ctx.trackedPolicies.add(policyId);
  if (seen.has(policyId)) return;
  seen.add(policyId);
  if (await ctx.localPolicies.get(policyId)) return;
  const raw = await ctx.gateway.getPolicy(policyId);
  if (raw === null) return;
  const doc = policyFromDitto(policyId, raw);
  for (const imported of Object.keys(doc.imports ?? {})) await ensureLocal(ctx, imported, seen);
  try {
    await ctx.localPolicies.put(policyId, doc, null);
    ctx.stats.policiesApplied++;
  } catch (err) {
    // Created here meanwhile (by the policy's own lane, or a user): theirs stands.
    if (!(err instanceof DomainError) || err.status !== 412) throw err;
  }
  ctx.policiesInDitto.add(policyId);
}

/**
 * Makes one policy the same on both sides, in its lane, once no local change of it waits: the
 * local changes go first (on a policy both sides changed, the platform's change wins), and
 * otherwise what Ditto holds is taken over here. A policy whose local changes are not read yet
 * is left to the next round.
 */
export async function reconcilePolicy(ctx: SyncContext, policyId: string): Promise<ItemResult> {
  const key = policyKey(policyId);
  let raw: unknown;
  try {
    raw = await ctx.gateway.getPolicy(policyId);
  } catch (err) {
    const failure = failureOf(err);
    if (failure.kind === 'rejected') {
      ctx.rejected(key, 0, failure, false);
      return { done: true };
    }
    return ctx.retryLater(key, failure);
  }
  const local = await ctx.localPolicies.get(policyId);
  // A local change committed before that read is in the lane after this catch-up; one committed
  // after it fails the write's If-Match.
  if (!(await ctx.catchUp()) || ctx.lanes.entriesBehindHead(key)) return { done: true };
  ctx.stats.reconciled++;
  if (raw === null && !local) return { done: true };
  if (raw === null && local) {
    if (!(await ctx.wasInDitto(key))) return pushPolicy(ctx, policyId, local.revision);
    ctx.policiesInDitto.delete(policyId);
    return applyHere(ctx, policyId, () => ctx.localPolicies.remove(policyId, local.revision));
  }
  let doc;
  try {
    doc = policyFromDitto(policyId, raw);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    ctx.inboundRejected({ thingId: key, path: [] }, err);
    return { done: true };
  }
  ctx.policiesInDitto.add(policyId);
  if (local && samePolicy(doc, local.doc)) {
    ctx.markSynced(key, local.revision);
    return { done: true };
  }
  // Never synced, yet Ditto has one: a default policy Ditto made for a thing that arrived before
  // its policy (before policies were synced). The platform's own stands.
  if (local && !(await ctx.wasInDitto(key))) return pushPolicy(ctx, policyId, local.revision);
  for (const imported of Object.keys(doc.imports ?? {})) {
    const waiting = await policyBeforeLocalThing(ctx, key, imported);
    if (waiting) return waiting;
  }
  return applyHere(ctx, policyId, () => ctx.localPolicies.put(policyId, doc, local?.revision ?? null));
}

async function applyHere(
  ctx: SyncContext,
  policyId: string,
  write: () => Promise<void>,
): Promise<ItemResult> {
  try {
    await write();
    ctx.stats.policiesApplied++;
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    // 412: changed here meanwhile; that change goes to Ditto, and the next round compares again.
    if (err.status !== 412) ctx.inboundRejected({ thingId: policyKey(policyId), path: [] }, err);
  }
  return { done: true };
}
