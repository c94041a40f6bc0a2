import { DomainError } from '../common/domain-error.js';
import type { TwinCommand } from '../twins/twin.types.js';
import { failureOf } from './outbound.js';
import { policyIdLinked } from './policy-ops.js';
import { policyBeforeLocalThing, policyBeforeThing } from './policy-sync.js';
import type { SyncContext } from './sync-context.js';
import type { ItemResult } from './sync-lanes.js';
import {
  content,
  correlationIdFor,
  overlaps,
  sameJson,
  type DittoEvent,
  type ThingJson,
} from './sync-ops.js';

const APPLY_ATTEMPTS = 5;

/**
 * Applies a change made in Ditto by someone else to the local twin, as the same command on the
 * same path, so both sides keep the same revision sequence. Local changes on other paths that
 * are still on their way to Ditto commute with it, so it is applied right away. When it touches
 * a path of a local change that is queued, or sent but not yet seen back in Ditto's event stream
 * (so the order of the two in Ditto is unknown), it is not applied; the thing is reconciled
 * instead, once the local changes are delivered, from what Ditto then holds. If-Match on the
 * newest revision read from the journal keeps a local change not read yet from slipping in.
 */
export async function applyEvent(ctx: SyncContext, ev: DittoEvent): Promise<ItemResult> {
  const waiting = await policyBeforeLocalThing(ctx, ev.thingId, policyIdLinked(ev));
  if (waiting) return waiting;
  for (let attempt = 0; attempt < APPLY_ATTEMPTS; attempt++) {
    const revision = await ctx.knownRevision(ev.thingId);
    const contested = [...ctx.lanes.pendingPaths(ev.thingId), ...ctx.inFlightPaths(ev.thingId)];
    if (revision === 'unknown' || contested.some((p) => overlaps(p, ev.path))) break;
    try {
      await ctx.twins.apply(commandFor(ev, revision));
      ctx.stats.eventsApplied++;
      return { done: true };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      if (ev.action === 'deleted' && err.status === 404) return { done: true };
      if (err.status === 412) continue;
      if (err.status !== 404) {
        ctx.inboundRejected(ev, err);
        return { done: true };
      }
      break;
    }
  }
  ctx.requestReconcile(ev.thingId);
  return { done: true };
}

function commandFor(ev: DittoEvent, revision: number | null): TwinCommand {
  const base = {
    thingId: ev.thingId,
    path: ev.path,
    origin: 'ditto' as const,
    correlationId: ev.correlationId,
    preconditions: revision === null ? { ifNoneMatch: '*' } : { ifMatch: `"rev:${revision}"` },
  };
  if (ev.action === 'deleted') return { ...base, type: 'delete' };
  if (ev.action === 'merged') return { ...base, type: 'merge', value: ev.value };
  return { ...base, type: 'modify', value: ev.value };
}

/**
 * Makes the two sides equal for one thing, once no local change for it is waiting: the local
 * changes went first (so on a path both sides changed, the platform's change wins), and
 * everything else Ditto has is taken over here.
 */
export async function reconcileThing(ctx: SyncContext, thingId: string): Promise<ItemResult> {
  const expected = await ctx.knownRevision(thingId);
  if (expected === 'unknown' || ctx.lanes.entriesBehindHead(thingId)) {
    ctx.requestReconcile(thingId);
    return { done: true };
  }
  let remote: ThingJson | null;
  try {
    remote = await ctx.gateway.getThing(thingId);
  } catch (err) {
    const failure = failureOf(err);
    if (failure.kind === 'rejected') {
      ctx.rejected(thingId, 0, failure);
      return { done: true };
    }
    return ctx.retryLater(thingId, failure);
  }
  const local = await ctx.local(thingId);
  ctx.stats.reconciled++;
  if (!remote && !local) return { done: true };
  if (!remote && local)
    return (await ctx.wasInDitto(thingId))
      ? removeLocal(ctx, thingId, local.revision)
      : exportLocal(ctx, thingId, local);
  const want = content(remote) as ThingJson;
  const linked = policyIdLinked({ action: 'modified', path: [], value: want });
  const waiting = await policyBeforeLocalThing(ctx, thingId, linked);
  if (waiting) return waiting;
  if (local && sameJson(want, content(local.view))) return { done: true };
  try {
    await ctx.twins.apply({
      type: 'modify',
      thingId,
      path: [],
      value: want,
      origin: 'ditto',
      preconditions: local ? { ifMatch: `"rev:${local.revision}"` } : { ifNoneMatch: '*' },
    });
    ctx.stats.eventsApplied++;
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    if (err.status === 412) ctx.requestReconcile(thingId);
    else ctx.inboundRejected({ thingId, path: [] }, err);
  }
  return { done: true };
}

/** Ditto deleted a thing it had, while we were not listening. */
async function removeLocal(ctx: SyncContext, thingId: string, revision: number): Promise<ItemResult> {
  try {
    await ctx.twins.apply({
      type: 'delete',
      thingId,
      path: [],
      origin: 'ditto',
      preconditions: { ifMatch: `"rev:${revision}"` },
    });
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    if (err.status === 412) ctx.requestReconcile(thingId);
  }
  return { done: true };
}

/** A local thing Ditto never had (made before the sync was on): create it there. */
async function exportLocal(
  ctx: SyncContext,
  thingId: string,
  local: { revision: number; view: Record<string, unknown> },
): Promise<ItemResult> {
  const policyId = typeof local.view.policyId === 'string' ? local.view.policyId : undefined;
  const waiting = await policyBeforeThing(ctx, thingId, local.revision, policyId);
  if (waiting) return waiting;
  try {
    await ctx.send(
      { verb: 'PUT', thingId, path: [], body: content(local.view) },
      correlationIdFor({ thingId, revision: local.revision }),
    );
    ctx.delivered(thingId, local.revision);
  } catch (err) {
    const failure = failureOf(err);
    if (failure.kind !== 'rejected') return ctx.retryLater(thingId, failure);
    ctx.rejected(thingId, local.revision, failure);
  }
  return { done: true };
}
