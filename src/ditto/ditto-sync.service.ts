import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import pg from 'pg';
import { ConfigService } from '../config/config.service.js';
import { JournalFeed, type FeedSubscription } from '../journal/journal-feed.js';
import { JournalService } from '../journal/journal.service.js';
import { DatabaseLocation } from '../persistence/database-location.js';
import { PoliciesService } from '../policies/policies.service.js';
import { PolicyCommands } from '../policies/policy-commands.service.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { SearchService } from '../twins/search.service.js';
import { TwinsQueryService } from '../twins/twins-query.service.js';
import { TwinsService } from '../twins/twins.service.js';
import { holdClientRejections } from './ditto-client-internals.js';
import { dittoSettings, type DittoSettings } from './ditto-settings.js';
import { DittoSyncEngine } from './ditto-sync.engine.js';
import { DittoSyncRepository, type ThingSyncError } from './ditto-sync.repository.js';
import { LocalPolicies } from './local-policies.js';

/** Any constant; the replica holding this session lock is the one that syncs. */
const SYNC_LOCK = 0x64697474; // "ditt"
const FLUSH_MS = 250;
const LEADER_RETRY_MS = 2000;
const FAILING_LISTED = 100;

export interface DittoSyncStatus {
  enabled: boolean;
  /** This replica runs the sync, or another one does (then the figures are its last snapshot). */
  role?: 'active' | 'standby';
  url?: string;
  namespaces?: string[];
  connected?: boolean;
  backlog?: { changes: number; oldestChangeAt: string | null; oldestChangeAgeSeconds: number | null };
  cursor?: string;
  stats?: unknown;
  reconcile?: unknown;
  failing?: { total: number; things: ThingSyncError[] };
  snapshotAt?: string;
}

/**
 * Keeps the twins the same here and in an Eclipse Ditto (DITTO_URL). One replica syncs at a
 * time (a PostgreSQL session lock decides); it persists its cursor, per-thing progress and a
 * status snapshot every FLUSH_MS, so another replica or a restart resumes where it stopped.
 */
@Injectable()
export class DittoSyncService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DittoSync');
  private readonly settings: DittoSettings | null;
  private engine: DittoSyncEngine | null = null;
  private lockClient: pg.Client | null = null;
  private feed: FeedSubscription | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private leaderTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private savedCursor = '';
  private stopped = false;
  private releaseRejections: (() => void) | null = null;

  constructor(
    @Inject(ConfigService) config: ConfigService,
    @Inject(DittoSyncRepository) private readonly repo: DittoSyncRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(JournalService) private readonly journal: JournalService,
    @Inject(JournalFeed) private readonly journalFeed: JournalFeed,
    @Inject(TwinsService) private readonly twins: TwinsService,
    @Inject(TwinsQueryService) private readonly query: TwinsQueryService,
    @Inject(SearchService) private readonly search: SearchService,
    @Inject(DatabaseLocation) private readonly location: DatabaseLocation,
    @Inject(PoliciesService) private readonly policies: PoliciesService,
    @Inject(PolicyCommands) private readonly policyCommands: PolicyCommands,
  ) {
    this.settings = dittoSettings(config.values);
  }

  onApplicationBootstrap(): void {
    if (!this.settings) return;
    // The Ditto client leaves some rejections unhandled; they must not stop the process.
    this.releaseRejections = holdClientRejections();
    void this.tryLead();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.leaderTimer) clearTimeout(this.leaderTimer);
    await this.resign();
    this.releaseRejections?.();
    this.releaseRejections = null;
  }

  async status(): Promise<DittoSyncStatus> {
    if (!this.settings) return { enabled: false };
    const failing = await this.repo.failing(this.tx.db, FAILING_LISTED);
    if (!this.engine) {
      const snap = await this.repo.status(this.tx.db);
      const last = (snap?.status ?? {}) as DittoSyncStatus;
      return { ...last, enabled: true, role: 'standby', failing, snapshotAt: snap?.updatedAt };
    }
    return { ...(await this.live()), failing };
  }

  private async live(): Promise<DittoSyncStatus> {
    const engine = this.engine as DittoSyncEngine;
    const settings = this.settings as DittoSettings;
    const backlog = await engine.backlog();
    const age = backlog.oldestAt ? Math.max(0, (Date.now() - Date.parse(backlog.oldestAt)) / 1000) : null;
    return {
      enabled: true,
      role: 'active',
      url: `${settings.tls ? 'https' : 'http'}://${settings.domain}${settings.prefix}`,
      namespaces: settings.namespaces ? settings.namespaces.split(',').map((s) => s.trim()) : [],
      connected: engine.events.connected,
      backlog: { changes: backlog.changes, oldestChangeAt: backlog.oldestAt, oldestChangeAgeSeconds: age },
      cursor: engine.tracker.cursor,
      stats: engine.ctx.stats,
      reconcile: engine.reconcile,
    };
  }

  private async tryLead(): Promise<void> {
    if (this.stopped || this.engine) return;
    try {
      const client = new pg.Client({
        connectionString: this.location.url,
        application_name: 'twin-ditto-sync',
      });
      client.on('error', (err) => this.lost(client, err));
      await client.connect();
      const [row] = (
        await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SYNC_LOCK])
      ).rows;
      if (!row.ok || this.stopped) {
        await client.end();
      } else {
        this.lockClient = client;
        await this.lead();
        return;
      }
    } catch (err) {
      this.logger.warn(`could not take the sync lock: ${String(err)}`);
    }
    this.leaderTimer = setTimeout(() => void this.tryLead(), LEADER_RETRY_MS);
  }

  private async lead(): Promise<void> {
    let cursor = await this.repo.cursor(this.tx.db);
    if (cursor === '0') {
      // First run: what exists now is brought over by the reconcile, not by replaying history.
      cursor = await this.journal.headSeq();
      await this.repo.save(this.tx.db, { cursor, synced: new Map(), errors: new Map(), status: {} });
    }
    this.savedCursor = cursor;
    const engine = new DittoSyncEngine(
      this.settings as DittoSettings,
      {
        journal: this.journal,
        twins: this.twins,
        query: this.query,
        search: this.search,
        policies: new LocalPolicies(this.policies, this.policyCommands),
        loadSynced: (ids) => this.repo.syncedRevisions(this.tx.db, ids),
      },
      cursor,
    );
    this.engine = engine;
    this.feed = this.journalFeed.subscribe(() => void engine.catchUp());
    this.flushTimer = setInterval(() => void this.flush(), FLUSH_MS);
    engine.start();
    this.logger.log(`syncing with Ditto at ${this.settings?.domain} from journal seq ${cursor}`);
  }

  private lost(client: pg.Client, err: unknown): void {
    if (client !== this.lockClient) return;
    this.logger.error(`lost the sync lock connection (${String(err)}); stepping down`);
    void this.resign().then(() => {
      this.leaderTimer = setTimeout(() => void this.tryLead(), LEADER_RETRY_MS);
    });
  }

  private async resign(): Promise<void> {
    const engine = this.engine;
    this.engine = null;
    this.feed?.close();
    this.feed = null;
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (engine) {
      await engine.stop();
      await this.flush(engine);
    }
    const client = this.lockClient;
    this.lockClient = null;
    await client?.end().catch(() => undefined);
  }

  /** Persists progress: what is not flushed is re-sent after a crash, never lost. */
  private flush(engine = this.engine): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (!engine) return;
      const ctx = engine.ctx;
      const cursor = engine.tracker.cursor;
      if (cursor === this.savedCursor && ctx.dirtySynced.size === 0 && ctx.dirtyErrors.size === 0) return;
      const synced = new Map(ctx.dirtySynced);
      const errors = new Map(ctx.dirtyErrors);
      ctx.dirtySynced.clear();
      ctx.dirtyErrors.clear();
      try {
        const status = this.engine === engine ? await this.live() : {};
        await this.tx.run((tx) => this.repo.save(tx, { cursor, synced, errors, status }));
        this.savedCursor = cursor;
      } catch (err) {
        for (const [k, v] of synced) if (!ctx.dirtySynced.has(k)) ctx.dirtySynced.set(k, v);
        for (const [k, v] of errors) if (!ctx.dirtyErrors.has(k)) ctx.dirtyErrors.set(k, v);
        this.logger.warn(`saving the sync position failed, will retry: ${String(err)}`);
      }
    });
    return this.flushing;
  }
}
