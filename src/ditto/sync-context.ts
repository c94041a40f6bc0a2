import { Logger } from '@nestjs/common';
import type { DomainError } from '../common/domain-error.js';
import type { TwinsQueryService } from '../twins/twins-query.service.js';
import type { TwinsService } from '../twins/twins.service.js';
import type { DittoFailure, DittoGateway } from './ditto-gateway.js';
import type { ThingSyncError } from './ditto-sync.repository.js';
import type { LocalPolicies } from './local-policies.js';
import type { ItemResult, Lanes } from './sync-lanes.js';
import type { DittoEvent, WireOp } from './sync-ops.js';

export interface SyncStats {
  delivered: number;
  eventsApplied: number;
  echoesIgnored: number;
  reconciled: number;
  /** Policies given to Ditto, and policies taken over from Ditto. */
  policiesDelivered: number;
  policiesApplied: number;
  retries: number;
  lastDeliveredAt: string | null;
  /** status: Ditto's HTTP status when it answered (0 for a timeout or an unreadable answer). */
  lastFailure: { message: string; status?: number; at: string } | null;
  inboundErrors: { thingId: string; path: string; error: string; message: string; at: string }[];
}

export interface LocalThing {
  revision: number;
  view: Record<string, unknown>;
}

/** What the pieces of the sync (outbound, inbound, reconcile) share; owned by DittoSyncService. */
export interface SyncHooks {
  /** Reads the journal up to its head; false when the backlog is too large to hold in memory. */
  catchUp(): Promise<boolean>;
  /** Synced revisions that are persisted, for things not seen yet in this run. */
  loadSynced(thingId: string): Promise<number | undefined>;
  requestReconcile(thingId: string): void;
}

const INBOUND_ERRORS_KEPT = 20;
/**
 * How long a sent change waits for its own event from Ditto. Ditto streams a thing's events in
 * the order it applied the changes, so once our change's event has come back, any later event
 * happened after it there; until then, the order is unknown. Without the WebSocket the echo
 * never comes; the reconcile after reconnecting covers that.
 */
const ECHO_WAIT_MS = 30_000;

export class SyncContext {
  readonly logger = new Logger('DittoSync');
  readonly stats: SyncStats = {
    delivered: 0,
    eventsApplied: 0,
    echoesIgnored: 0,
    reconciled: 0,
    policiesDelivered: 0,
    policiesApplied: 0,
    retries: 0,
    lastDeliveredAt: null,
    lastFailure: null,
    inboundErrors: [],
  };
  /** Finished revision per thing; the part not yet persisted is in `dirtySynced`. */
  private readonly synced = new Map<string, number>();
  readonly dirtySynced = new Map<string, number>();
  readonly dirtyErrors = new Map<string, ThingSyncError | null>();
  private readonly failing = new Set<string>();
  /** Newest local revision the journal reader has seen per thing, null once deleted. */
  readonly known = new Map<string, number | null>();
  /** The policyId per thing as the journal reader last saw it set. */
  readonly policies = new Map<string, string>();
  /**
   * Policies the sync keeps the same on both sides besides those of synced namespaces: the ones
   * synced things link. Ditto sends no policy events, so these are the ones polled.
   */
  readonly trackedPolicies = new Set<string>();
  /** Policies known to exist in Ditto, so a thing linking one is not preceded by its policy again. */
  readonly policiesInDitto = new Set<string>();
  /** Changes sent to Ditto whose own event has not come back yet, by correlation id. */
  private readonly unechoed = new Map<string, { thingId: string; path: string[]; at: number }>();

  constructor(
    readonly gateway: DittoGateway,
    readonly twins: TwinsService,
    private readonly query: TwinsQueryService,
    readonly lanes: Lanes,
    readonly localPolicies: LocalPolicies,
    private readonly hooks: SyncHooks,
    private readonly backoff: (attempt: number) => number,
  ) {}

  async syncedRevision(thingId: string): Promise<number | undefined> {
    if (this.synced.has(thingId)) return this.synced.get(thingId);
    const stored = await this.hooks.loadSynced(thingId);
    if (stored !== undefined && !this.synced.has(thingId)) this.synced.set(thingId, stored);
    return this.synced.get(thingId);
  }

  primeSynced(entries: Map<string, number>): void {
    for (const [id, rev] of entries) if (!this.synced.has(id)) this.synced.set(id, rev);
  }

  async wasInDitto(thingId: string): Promise<boolean> {
    return ((await this.syncedRevision(thingId)) ?? 0) > 0;
  }

  markSynced(thingId: string, revision: number): void {
    if ((this.synced.get(thingId) ?? 0) >= revision) return;
    this.synced.set(thingId, revision);
    this.dirtySynced.set(thingId, revision);
  }

  /** Sends a change to Ditto, remembering it until its event comes back. */
  async send(op: WireOp, correlationId: string): Promise<void> {
    this.unechoed.set(correlationId, { thingId: op.thingId, path: op.path, at: Date.now() });
    try {
      await this.gateway.send(op, correlationId);
    } catch (err) {
      this.unechoed.delete(correlationId);
      throw err;
    }
  }

  echoed(correlationId: string | undefined): void {
    this.stats.echoesIgnored++;
    if (correlationId) this.unechoed.delete(correlationId);
  }

  delivered(thingId: string, revision: number): void {
    this.markSynced(thingId, revision);
    this.stats.delivered++;
    this.stats.lastDeliveredAt = new Date().toISOString();
    if (this.failing.delete(thingId)) this.dirtyErrors.set(thingId, null);
  }

  /**
   * Ditto refused the change for good: recorded for the status, and the thing moves on. `advance`
   * false leaves the synced revision alone, for a policy whose refusal must not read as "Ditto had
   * it" later (the reconcile would take Ditto's absence for a deletion there).
   */
  rejected(
    thingId: string,
    revision: number,
    f: Extract<DittoFailure, { kind: 'rejected' }>,
    advance = true,
  ): void {
    if (advance) this.markSynced(thingId, revision);
    this.failing.add(thingId);
    const at = new Date().toISOString();
    this.dirtyErrors.set(thingId, {
      thingId,
      revision,
      status: f.status,
      error: f.error,
      message: f.message,
      description: f.description,
      at,
    });
    this.logger.warn(`Ditto refused ${thingId} revision ${revision}: ${f.status} ${f.error}: ${f.message}`);
  }

  retryLater(thingId: string, f: Exclude<DittoFailure, { kind: 'rejected' }>): ItemResult {
    this.stats.retries++;
    this.stats.lastFailure = {
      message: `${thingId}: ${f.message}`,
      ...(f.kind === 'retry' ? { status: f.status } : {}),
      at: new Date().toISOString(),
    };
    return { retryInMs: this.backoff(this.stats.retries % 8), pauseAll: f.kind === 'unreachable' };
  }

  inboundRejected(ev: Pick<DittoEvent, 'thingId' | 'path'>, err: DomainError): void {
    const at = new Date().toISOString();
    this.stats.inboundErrors.unshift({
      thingId: ev.thingId,
      path: `/${ev.path.join('/')}`,
      error: err.code,
      message: err.message,
      at,
    });
    this.stats.inboundErrors.length = Math.min(this.stats.inboundErrors.length, INBOUND_ERRORS_KEPT);
    this.logger.warn(`a change from Ditto to ${ev.thingId} was not applied: ${err.code}: ${err.message}`);
  }

  requestReconcile(thingId: string): void {
    this.hooks.requestReconcile(thingId);
  }

  /** Reads the journal to its head: false when the backlog is too large to hold in memory. */
  catchUp(): Promise<boolean> {
    return this.hooks.catchUp();
  }

  async local(thingId: string): Promise<LocalThing | null> {
    try {
      const read = await this.query.get(thingId, []);
      return { revision: read.thing.revision, view: read.value as Record<string, unknown> };
    } catch (err) {
      if ((err as DomainError).status === 404) return null;
      throw err;
    }
  }

  async policyIdOf(thingId: string): Promise<string> {
    const seen = this.policies.get(thingId);
    if (seen) return seen;
    const local = await this.local(thingId);
    return typeof local?.view.policyId === 'string' ? local.view.policyId : thingId;
  }

  /** Paths of changes sent to Ditto that may not be ordered yet against Ditto's own events. */
  inFlightPaths(thingId: string): string[][] {
    const now = Date.now();
    const out: string[][] = [];
    for (const [id, sent] of this.unechoed) {
      if (now - sent.at >= ECHO_WAIT_MS) this.unechoed.delete(id);
      else if (sent.thingId === thingId) out.push(sent.path);
    }
    return out;
  }

  /**
   * The newest local revision of the thing, all committed changes read (null: it does not exist),
   * or 'unknown' when the journal could not be read to its head (a backlog larger than memory).
   */
  async knownRevision(thingId: string): Promise<number | null | 'unknown'> {
    for (;;) {
      if (!(await this.hooks.catchUp())) return 'unknown';
      if (this.known.has(thingId)) return this.known.get(thingId) ?? null;
      const local = await this.local(thingId);
      // A write committed between the catch-up and this read would not be known yet: look again.
      if (!(await this.hooks.catchUp())) return 'unknown';
      if (!this.known.has(thingId)) return local?.revision ?? null;
    }
  }
}
