import type { JournalEntry } from '../journal/journal.types.js';
import { parsePointer } from '../twins/model/json-pointer.js';
import type { JournalService } from '../journal/journal.service.js';
import type { SearchService } from '../twins/search.service.js';
import type { TwinsQueryService } from '../twins/twins-query.service.js';
import type { TwinsService } from '../twins/twins.service.js';
import { DittoEventStream } from './ditto-events.js';
import { DittoGateway } from './ditto-gateway.js';
import type { DittoSettings } from './ditto-settings.js';
import { applyEvent, reconcileThing } from './inbound.js';
import type { LocalPolicies } from './local-policies.js';
import { deliverEntry } from './outbound.js';
import { policyKey } from './policy-ops.js';
import { deliverPolicyEntry, reconcilePolicy } from './policy-sync.js';
import { SyncContext } from './sync-context.js';
import { CursorTracker, Lanes } from './sync-lanes.js';
import { isEcho, namespaceFilter, type DittoEvent } from './sync-ops.js';

/** How many read-but-unfinished changes may wait in memory; the rest waits in the journal. */
const MAX_IN_MEMORY = 20_000;
const PAGE = 500;
/**
 * Ditto sends no policy events over the WebSocket (only announcements), so a policy changed
 * there is seen by reading it: each tracked policy once per round, a round this long after the
 * previous one was queued (rounds never pile up: a policy queued already is not queued again).
 */
export const POLICY_POLL_MS = 10_000;

export interface EngineDeps {
  journal: JournalService;
  twins: TwinsService;
  query: TwinsQueryService;
  search: SearchService;
  policies: LocalPolicies;
  loadSynced(thingIds: string[]): Promise<Map<string, number>>;
}

/**
 * One running sync (on the replica that holds the sync lock): reads the journal from the
 * persisted cursor into per-thing lanes, listens to Ditto's events, reconciles after every gap.
 */
export class DittoSyncEngine {
  readonly gateway: DittoGateway;
  readonly events: DittoEventStream;
  readonly lanes: Lanes;
  readonly ctx: SyncContext;
  readonly tracker: CursorTracker;
  private readonly inScope: (thingId: string) => boolean;
  private readonly reconcileQueued = new Set<string>();
  private readonly policyReconcileQueued = new Set<string>();
  private policyTimer: NodeJS.Timeout | null = null;
  private readHead: string;
  private atHead = false;
  private queuedPass: Promise<boolean> | null = null;
  private lastPass: Promise<unknown> = Promise.resolve();
  private stopped = false;
  reconcile: { startedAt: string | null; finishedAt: string | null; things: number; error: string | null } = {
    startedAt: null,
    finishedAt: null,
    things: 0,
    error: null,
  };

  constructor(
    private readonly settings: DittoSettings,
    private readonly deps: EngineDeps,
    cursor: string,
  ) {
    const backoff = (attempt: number) => Math.min(settings.retryMaxMs, 250 * 2 ** Math.min(attempt, 16));
    this.gateway = new DittoGateway(settings);
    this.lanes = new Lanes(settings.concurrency, backoff, (thingId, err) =>
      this.ctx.logger.error(`sync of ${thingId} failed, will retry: ${String(err)}`),
    );
    this.ctx = new SyncContext(
      this.gateway,
      deps.twins,
      deps.query,
      this.lanes,
      deps.policies,
      {
        catchUp: () => this.catchUp(),
        loadSynced: async (id) => (await deps.loadSynced([id])).get(id),
        requestReconcile: (id) => this.requestReconcile(id),
      },
      backoff,
    );
    this.tracker = new CursorTracker(cursor);
    this.readHead = cursor;
    this.inScope = namespaceFilter(settings.namespaces);
    this.events = new DittoEventStream(settings, {
      event: (e) => this.onEvent(e),
      live: () => void this.reconcileAll(),
      down: (reason) => this.ctx.logger.warn(`not receiving Ditto's events: ${reason}`),
    });
  }

  start(): void {
    void this.catchUp();
    this.events.start();
    this.schedulePolicyPoll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.policyTimer) clearTimeout(this.policyTimer);
    this.events.stop();
    await this.lanes.stop();
  }

  /** Local changes waiting for Ditto: read and unfinished ones, plus those not read yet. */
  async backlog(): Promise<{ changes: number; oldestAt: string | null }> {
    const unread = await this.deps.journal.countAfter(this.readHead, { excludeOrigin: 'ditto' });
    const inScopeUnread = unread.filter((u) => this.inScope(`${u.namespace}:`));
    const count = inScopeUnread.reduce((n, u) => n + u.count, 0);
    const oldestUnread = inScopeUnread.map((u) => u.oldest).sort()[0] ?? null;
    return {
      changes: this.tracker.unfinished + count,
      oldestAt: this.tracker.oldestUnfinishedAt ?? oldestUnread,
    };
  }

  /** Reads the journal up to its head into the lanes; false if memory filled up first. */
  catchUp(): Promise<boolean> {
    if (this.queuedPass) return this.queuedPass;
    const pass: Promise<boolean> = this.lastPass.then(() => {
      if (this.queuedPass === pass) this.queuedPass = null;
      return this.readToHead();
    });
    this.queuedPass = pass;
    this.lastPass = pass.catch((err: unknown) =>
      this.ctx.logger.error(`reading the journal failed: ${String(err)}`),
    );
    return pass;
  }

  private async readToHead(): Promise<boolean> {
    while (!this.stopped) {
      if (this.tracker.unfinished >= MAX_IN_MEMORY) return (this.atHead = false);
      const page = await this.deps.journal.readAfter(this.readHead, PAGE);
      if (page.length === 0) return (this.atHead = true);
      const unseen = [
        ...new Set(page.map((e) => (e.entity === 'policy' ? policyKey(e.thingId) : e.thingId))),
      ].filter((id) => !this.ctx.known.has(id));
      this.ctx.primeSynced(await this.deps.loadSynced(unseen));
      for (const entry of page) this.take(entry);
      if (page.length < PAGE) return (this.atHead = true);
    }
    return false;
  }

  private take(entry: JournalEntry): void {
    this.readHead = entry.seq;
    if (entry.entity === 'policy') return this.takePolicy(entry);
    const gone = entry.action === 'deleted' && entry.path === '/';
    this.ctx.known.set(entry.thingId, gone ? null : entry.revision);
    const policyId =
      entry.path === '/policyId' ? entry.value : (entry.value as { policyId?: unknown } | null)?.policyId;
    if (entry.path === '/' || entry.path === '/policyId') {
      if (typeof policyId === 'string') this.ctx.policies.set(entry.thingId, policyId);
    }
    const finished = this.tracker.add(entry.seq, entry.timestamp);
    if (!this.inScope(entry.thingId)) return finished();
    if (entry.policyId) this.ctx.trackedPolicies.add(entry.policyId);
    this.lanes.push(entry.thingId, {
      kind: 'entry',
      path: parsePointer(entry.path),
      run: () => deliverEntry(this.ctx, entry),
      finished,
    });
  }

  /** A policy of a synced namespace, or one a synced thing links. */
  private policyInScope(policyId: string): boolean {
    return this.inScope(policyId) || this.ctx.trackedPolicies.has(policyId);
  }

  private takePolicy(entry: JournalEntry): void {
    const finished = this.tracker.add(entry.seq, entry.timestamp);
    if (!this.policyInScope(entry.thingId)) return finished();
    this.ctx.trackedPolicies.add(entry.thingId);
    this.lanes.push(policyKey(entry.thingId), {
      kind: 'entry',
      path: parsePointer(entry.path),
      run: () => deliverPolicyEntry(this.ctx, entry),
      finished,
    });
  }

  private requestPolicyReconcile(policyId: string): void {
    if (this.policyReconcileQueued.has(policyId)) return;
    this.policyReconcileQueued.add(policyId);
    this.lanes.push(policyKey(policyId), {
      kind: 'reconcile',
      run: () => {
        this.policyReconcileQueued.delete(policyId);
        return reconcilePolicy(this.ctx, policyId);
      },
    });
  }

  private schedulePolicyPoll(): void {
    if (this.stopped) return;
    this.policyTimer = setTimeout(() => {
      for (const id of this.ctx.trackedPolicies) this.requestPolicyReconcile(id);
      this.schedulePolicyPoll();
    }, POLICY_POLL_MS);
    this.policyTimer.unref();
  }

  private onEvent(e: DittoEvent): void {
    if (!this.inScope(e.thingId)) return;
    if (isEcho(e.correlationId)) return this.ctx.echoed(e.correlationId);
    this.lanes.push(e.thingId, { kind: 'event', run: () => applyEvent(this.ctx, e) });
  }

  private requestReconcile(thingId: string): void {
    if (this.reconcileQueued.has(thingId)) return;
    this.reconcileQueued.add(thingId);
    this.lanes.push(thingId, {
      kind: 'reconcile',
      run: () => {
        this.reconcileQueued.delete(thingId);
        return reconcileThing(this.ctx, thingId);
      },
    });
  }

  /** After every (re)subscription: whatever changed on either side while events did not flow. */
  private async reconcileAll(): Promise<void> {
    this.reconcile = { startedAt: new Date().toISOString(), finishedAt: null, things: 0, error: null };
    try {
      const namespaces = this.settings.namespaces
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const things = [
        ...(await this.gateway.listThings(namespaces)),
        ...(await this.localThings(namespaces)),
      ];
      const ids = new Set(things.map((t) => t.thingId));
      for (const t of things)
        if (t.policyId && this.inScope(t.thingId)) this.ctx.trackedPolicies.add(t.policyId);
      for (const id of this.ctx.trackedPolicies) this.requestPolicyReconcile(id);
      for (const id of ids) if (this.inScope(id)) this.requestReconcile(id);
      this.reconcile = { ...this.reconcile, finishedAt: new Date().toISOString(), things: ids.size };
    } catch (err) {
      this.reconcile = { ...this.reconcile, error: String(err) };
      this.ctx.logger.warn(`listing things for the reconcile failed, trying again: ${String(err)}`);
      if (!this.stopped) setTimeout(() => void this.reconcileAll(), this.settings.retryMaxMs).unref();
    }
  }

  private async localThings(namespaces: string[]): Promise<{ thingId: string; policyId?: string }[]> {
    const things: { thingId: string; policyId?: string }[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.search.search({
        namespaces: namespaces.length > 0 ? namespaces.join(',') : undefined,
        fields: 'thingId,policyId',
        option: `sort(+thingId),size(200)${cursor ? `,cursor(${cursor})` : ''}`,
      });
      for (const item of page.items) {
        const policyId = typeof item.policyId === 'string' ? item.policyId : undefined;
        things.push({ thingId: String(item.thingId), policyId });
      }
      cursor = page.cursor;
    } while (cursor);
    return things;
  }
}
