import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { JournalFeed, seqAfter, type FeedSubscription } from '../journal/journal-feed.js';
import type { JournalEntry } from '../journal/journal.types.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { deviceTopic } from '../protocol/device-topics.js';
import { isJsonObject } from '../twins/model/json-pointer.js';
import { TwinsQueryService } from '../twins/twins-query.service.js';
import { IngestStats } from './ingest-stats.js';
import { IngestRepository } from './ingest.repository.js';
import { MqttBroker } from './mqtt-broker.js';
import { MqttConnection } from './mqtt-connection.js';

/** How often the cursor is written when it moved: a crash replays at most this much of the feed. */
const CURSOR_SAVE_MS = 5_000;
const RETRY_MS = 1_000;
const PAGE = 1_000;

/**
 * Publishes a thing's desired state on `things/{thingId}/desired` (QoS 1, retained, so a device
 * that connects later gets it at once) whenever a committed change may have touched it. It
 * always publishes the current state read back from the store, coalescing bursts per thing,
 * so a device never ends on an older desired state than the twin's.
 *
 * Durable: the changes come from the journal feed (every replica's commits, in seq order), not
 * from the in-process bus, and a cursor in the database records the seq up to which every
 * touched thing has been published (PUBACKed by the broker). At boot the feed replays from the
 * cursor, so a crash between a commit and its publish only delays the publish. The cursor is
 * shared by replicas and only moves forward: each replica publishes every change it sees (the
 * same retained current state, so repeats are harmless), so whichever replica got furthest
 * stands for all. The embedded broker keeps no retained messages across restarts: with it,
 * the desired state of every thing that has some is published again at boot.
 */
@Injectable()
export class DesiredPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DesiredPublisher');
  private readonly dirty = new Set<string>();
  private running: Promise<void> | undefined;
  private subscription: FeedSubscription | undefined;
  /** The last seq the feed delivered. */
  private seen: string | undefined;
  /** Every touched thing up to this seq has been published. */
  private published: string | undefined;
  private saved: string | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    @Inject(JournalFeed) private readonly feed: JournalFeed,
    @Inject(TwinsQueryService) private readonly query: TwinsQueryService,
    @Inject(MqttConnection) private readonly mqtt: MqttConnection,
    @Inject(MqttBroker) private readonly broker: MqttBroker,
    @Inject(IngestRepository) private readonly repo: IngestRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(IngestStats) private readonly stats: IngestStats,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const cursor = await this.repo.desiredCursor(this.tx.db);
    this.saved = cursor;
    this.follow(cursor);
    this.saveTimer = setInterval(() => void this.saveCursor(), CURSOR_SAVE_MS).unref();
    if (this.broker.embedded) void this.republishAll();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.subscription?.close();
    clearInterval(this.saveTimer);
    clearTimeout(this.retryTimer);
    await this.running;
    await this.saveCursor();
  }

  /** From the cursor, or from the head on the very first start (nothing to catch up on). */
  private follow(from: string | undefined): void {
    this.subscription = this.feed.subscribe((entries) => this.onEntries(entries), {
      ...(from === undefined ? {} : { from }),
      onError: (err) => {
        this.logger.warn(`reading the journal failed, retrying: ${(err as Error).message}`);
        this.retryTimer = setTimeout(() => {
          if (!this.stopped) this.follow(this.published ?? from);
        }, RETRY_MS * 5).unref();
      },
    });
  }

  /** While the feed replays it waits for the returned promise, so a catch-up is paced. */
  private onEntries(entries: readonly JournalEntry[]): Promise<void> | undefined {
    for (const e of entries) if (e.entity !== 'policy' && touchesDesired(e)) this.dirty.add(e.thingId);
    this.seen = entries[entries.length - 1].seq;
    if (this.dirty.size === 0 && !this.running) {
      this.published = this.seen;
      return undefined;
    }
    return this.schedule();
  }

  private schedule(): Promise<void> {
    this.running ??= this.drain().finally(() => (this.running = undefined));
    return this.running;
  }

  private async drain(): Promise<void> {
    await this.mqtt.ready;
    while (this.dirty.size > 0 && !this.stopped) {
      const upTo = this.seen;
      const ids = [...this.dirty];
      this.dirty.clear();
      try {
        await Promise.all(ids.map((id) => this.publish(id)));
      } catch (err) {
        // Kept for another attempt: a lost publish is what this class exists to prevent.
        for (const id of ids) this.dirty.add(id);
        this.logger.error(`publishing desired state failed, retrying: ${(err as Error).message}`);
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          if (!this.stopped) void this.schedule();
        }, RETRY_MS).unref();
        return;
      }
      if (upTo !== undefined && (this.published === undefined || seqAfter(upTo, this.published))) {
        this.published = upTo;
      }
    }
  }

  private async saveCursor(): Promise<void> {
    const seq = this.published;
    if (seq === undefined || seq === this.saved) return;
    try {
      await this.repo.saveDesiredCursor(this.tx.db, seq);
      this.saved = seq;
    } catch (err) {
      this.logger.warn(`saving the desired-state cursor failed: ${(err as Error).message}`);
    }
  }

  /** Every thing with desired properties, page by page (the embedded broker lost them all). */
  private async republishAll(): Promise<void> {
    try {
      let after = '';
      for (;;) {
        const ids = await this.repo.thingsWithDesired(this.tx.db, after, PAGE);
        if (ids.length === 0 || this.stopped) return;
        for (const id of ids) this.dirty.add(id);
        await this.schedule();
        after = ids[ids.length - 1];
      }
    } catch (err) {
      this.logger.error(`publishing desired state at boot failed: ${(err as Error).message}`);
    }
  }

  private async publish(thingId: string): Promise<void> {
    let payload = '';
    try {
      const { value } = await this.query.get(thingId, ['features']);
      payload = JSON.stringify({ features: desiredOf(value) });
    } catch (err) {
      // No thing (or no features): clear the retained message rather than leave a stale one.
      if (!(err instanceof DomainError && err.status === 404)) throw err;
      payload = JSON.stringify({ features: {} });
      if (err.code === 'things:thing.notfound') payload = '';
    }
    await this.mqtt.publish(deviceTopic(thingId, 'desired'), payload, true);
    this.stats.desiredPublished++;
  }
}

function desiredOf(features: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isJsonObject(features)) return out;
  for (const [id, f] of Object.entries(features)) {
    if (isJsonObject(f) && f.desiredProperties !== undefined) out[id] = f.desiredProperties;
  }
  return out;
}

/**
 * Whether a journal entry may have changed desired properties: any change at or below a
 * `desiredProperties`, and a change of a whole thing, features or feature unless it is a merge
 * patch that neither names desiredProperties nor deletes a feature. Telemetry merges (only
 * `properties`) never qualify, so ingest traffic publishes nothing.
 */
export function touchesDesired(e: JournalEntry): boolean {
  const seg = e.path === '/' ? [] : e.path.slice(1).split('/');
  if (seg.length > 0 && seg[0] !== 'features') return false;
  if (seg.length >= 3) return seg[2] === 'desiredProperties';
  if (e.action === 'created') return seg.length === 0 ? hasDesired(e.value, 2) : true;
  if (e.action !== 'merged') return true;
  // Merge patch at /, /features or /features/<id>: look for desiredProperties or a deletion.
  const depth = 2 - seg.length;
  return e.value === null || hasDesired(e.value, depth) || deletesFeature(e.value, seg.length);
}

/** Whether `desiredProperties` appears `depth` levels below the features of the value. */
function hasDesired(value: unknown, depth: number): boolean {
  if (!isJsonObject(value)) return false;
  if (depth === 2) return hasDesired(value.features, 1);
  if (depth === 1) return Object.values(value).some((f) => hasDesired(f, 0));
  return 'desiredProperties' in value;
}

function deletesFeature(patch: unknown, level: number): boolean {
  if (!isJsonObject(patch)) return false;
  if (level === 0) return patch.features === null || deletesFeature(patch.features, 1);
  if (level === 1) return Object.values(patch).some((f) => f === null);
  return false;
}
