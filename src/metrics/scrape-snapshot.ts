import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DittoSyncService, type DittoSyncStatus } from '../ditto/ditto-sync.service.js';
import { JournalService } from '../journal/journal.service.js';

/** Reads that cost a database round trip; each one bounded, and shared by one scrape's collectors. */
export interface ScrapeSnapshot {
  /** The newest committed journal seq; undefined when the read failed or timed out. */
  journalHead?: string;
  /** DittoSyncService.status(); undefined when it failed or timed out. */
  ditto?: DittoSyncStatus;
  /** Sources that did not answer in time (or failed) on this scrape. */
  failed: string[];
}

/** What a database read may take before the scrape answers without it. */
export const SNAPSHOT_TIMEOUT_MS = 2000;

/**
 * The database-backed figures of a scrape. Every collector of one scrape (and any scrape that
 * overlaps it) shares one read per source, run in parallel and cut off after
 * SNAPSHOT_TIMEOUT_MS, so a slow database neither multiplies the queries nor holds the scrape
 * beyond Prometheus' timeout. A timed-out read is not started again until it has settled.
 */
@Injectable()
export class ScrapeSnapshots {
  private readonly logger = new Logger('Metrics');
  private current?: Promise<ScrapeSnapshot>;
  private settled = true;
  /** Reads still running, by source: a stuck one is waited for again, not piled up. */
  private readonly running = new Map<string, Promise<unknown>>();
  private ditto?: DittoSyncService | null;

  constructor(
    @Inject(JournalService) private readonly journal: JournalService,
    @Inject(ModuleRef) private readonly modules: ModuleRef,
  ) {}

  /** Called once per scrape, before its collectors run: a new read unless one is still running. */
  begin(): void {
    if (!this.settled) return;
    this.settled = false;
    this.current = this.read().finally(() => (this.settled = true));
  }

  /** The snapshot of the scrape under way (collectors call this). */
  get(): Promise<ScrapeSnapshot> {
    if (!this.current) this.begin();
    return this.current as Promise<ScrapeSnapshot>;
  }

  private async read(): Promise<ScrapeSnapshot> {
    const failed: string[] = [];
    const sync = this.syncService();
    const [journalHead, ditto] = await Promise.all([
      this.bounded('journal', () => this.journal.headSeq(), failed),
      sync ? this.bounded('ditto_sync', () => sync.status(), failed) : Promise.resolve(undefined),
    ]);
    return { journalHead, ditto, failed };
  }

  private async bounded<T>(source: string, read: () => Promise<T>, failed: string[]): Promise<T | undefined> {
    let work = this.running.get(source) as Promise<T> | undefined;
    if (!work) {
      work = read();
      const done = (): void => void this.running.delete(source);
      work.then(done, done);
      this.running.set(source, work);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((ok) => {
      timer = setTimeout(() => ok('timeout'), SNAPSHOT_TIMEOUT_MS);
      timer.unref();
    });
    try {
      const result = await Promise.race([work, timeout]);
      if (result === 'timeout') {
        failed.push(source);
        this.logger.warn(`metrics: reading ${source} took over ${SNAPSHOT_TIMEOUT_MS} ms; left out`);
        return undefined;
      }
      return result;
    } catch (err) {
      failed.push(source);
      this.logger.warn(
        `metrics: reading ${source} failed: ${err instanceof Error ? err.message : String(err)}`,
      );
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** DittoModule keeps its service to itself; looked up once, across modules. */
  private syncService(): DittoSyncService | null {
    if (this.ditto === undefined) {
      try {
        this.ditto = this.modules.get(DittoSyncService, { strict: false });
      } catch {
        this.ditto = null;
      }
    }
    return this.ditto;
  }
}
