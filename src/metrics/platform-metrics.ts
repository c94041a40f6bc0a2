import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Metric, type Registry } from 'prom-client';
import type { DittoSyncStatus } from '../ditto/ditto-sync.service.js';
import { DEAD_LETTER_REASONS } from '../ingest/device-contract.js';
import { IngestStats, REFUSAL_REASONS, type IngestStatsView } from '../ingest/ingest-stats.js';
import { JournalFeed } from '../journal/journal-feed.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { RealtimeStats } from '../realtime/realtime-stats.js';
import { SseStreams } from '../realtime/sse-streams.js';
import { WsSessions } from '../realtime/ws-sessions.js';
import { MetricsRegistry } from './metrics-registry.js';
import { ScrapeSnapshots } from './scrape-snapshot.js';

/** Request durations, seconds: from a cached read by id to a slow search. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Commit and queueing times, seconds: a batch commits in milliseconds, a backlog takes longer. */
const COMMIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Messages per batch, up to INGEST_BATCH_MAX. */
const BATCH_BUCKETS = [1, 5, 10, 50, 100, 500, 1000, 5000, 10_000, 20_000];

type IngestCounter = keyof Pick<
  IngestStatsView,
  | 'received'
  | 'acknowledged'
  | 'committedReadings'
  | 'duplicates'
  | 'stale'
  | 'twinChanges'
  | 'batches'
  | 'retries'
  | 'devicesMarkedOffline'
  | 'desiredPublished'
  | 'refusedConnects'
  | 'refusedPublishes'
  | 'refusedSubscribes'
  | 'throttled'
  | 'deadLettersPruned'
>;

/** Each IngestStats counter and its metric (name without the `_total` prom-client appends). */
const INGEST_COUNTERS: [IngestCounter, string, string][] = [
  [
    'received',
    'twin_ingest_messages_received',
    'MQTT messages taken from the broker (redeliveries count again)',
  ],
  [
    'acknowledged',
    'twin_ingest_messages_acknowledged',
    'MQTT messages acknowledged after their batch committed',
  ],
  ['committedReadings', 'twin_ingest_readings_committed', 'New readings committed to history'],
  [
    'duplicates',
    'twin_ingest_readings_duplicate',
    'Readings already in history (redeliveries, device retries)',
  ],
  ['stale', 'twin_ingest_readings_stale', 'Leaves not applied to a twin that already held a newer value'],
  ['twinChanges', 'twin_ingest_twin_changes', 'Journal entries the ingest batches produced'],
  ['batches', 'twin_ingest_batches', 'Ingest batches committed'],
  ['retries', 'twin_ingest_batch_retries', 'Ingest batch commits that failed and were retried'],
  [
    'devicesMarkedOffline',
    'twin_ingest_devices_marked_offline',
    'Devices marked offline by the presence sweep',
  ],
  ['desiredPublished', 'twin_ingest_desired_published', 'Desired-state messages published to devices'],
  [
    'refusedConnects',
    'twin_ingest_refused_connects',
    'CONNECTs the embedded broker refused (credentials, client id)',
  ],
  [
    'refusedPublishes',
    'twin_ingest_refused_publishes',
    "PUBLISHes outside the client's own topics (embedded broker)",
  ],
  [
    'refusedSubscribes',
    'twin_ingest_refused_subscribes',
    "Subscriptions outside the client's own topics (embedded broker)",
  ],
  [
    'throttled',
    'twin_ingest_messages_throttled',
    'Messages that waited for their device (in-flight limit per device)',
  ],
  ['deadLettersPruned', 'twin_ingest_dead_letters_pruned', 'Dead letters deleted by retention or size limit'],
];

/** Seqs are decimal strings (bigint); a lag is never negative. */
function seqDistance(newer: string, older: string): number {
  try {
    const d = BigInt(newer) - BigInt(older);
    return d > 0n ? Number(d) : 0;
  } catch {
    return 0;
  }
}

/**
 * The platform's Prometheus registry (one per application, so test apps in one process do not
 * share figures): Node's default process metrics, HTTP requests, and the figures the features
 * already keep, read when Prometheus scrapes (collect callbacks), not copied on every event.
 */
@Injectable()
export class PlatformMetrics {
  readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;

  constructor(
    @Inject(IngestStats) private readonly ingest: IngestStats,
    @Inject(JournalFeed) private readonly feed: JournalFeed,
    @Inject(WsSessions) private readonly ws: WsSessions,
    @Inject(SseStreams) private readonly sse: SseStreams,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(ScrapeSnapshots) private readonly snapshots: ScrapeSnapshots,
    @Inject(RealtimeStats) private readonly realtime: RealtimeStats,
    @Inject(MetricsRegistry) readonly registry: MetricsRegistry,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by route template, method and status',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration until the response was sent, by route template, method and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers,
    });

    this.ingestMetrics(registers);
    this.journalMetrics(registers);
    this.realtimeMetrics(registers);
    this.dittoMetrics(registers);
    this.poolMetrics(registers);
  }

  /** The text Prometheus scrapes; the database-backed figures are read once for it. */
  render(): Promise<string> {
    this.snapshots.begin();
    return this.registry.metrics();
  }

  private ingestMetrics(registers: Registry[]): void {
    const ingest = this.ingest;
    for (const [field, name, help] of INGEST_COUNTERS) {
      new Counter({
        name: `${name}_total`,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(ingest.view()[field]);
        },
      });
    }
    new Counter({
      name: 'twin_ingest_dead_letters_total',
      help: 'MQTT messages refused into the dead letters, by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        const dead = ingest.view().deadLetters;
        this.reset();
        for (const reason of DEAD_LETTER_REASONS) this.inc({ reason }, dead[reason]);
      },
    });
    new Counter({
      name: 'twin_ingest_refused_total',
      help: 'PUBLISHes the embedded broker refused outright, by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        const refused = ingest.view().refused;
        this.reset();
        for (const reason of REFUSAL_REASONS) this.inc({ reason }, refused[reason]);
      },
    });
    new Counter({
      name: 'twin_ingest_messages_total',
      help: 'Where the messages the ingest saw ended: stored, ignored, dead_lettered, refused',
      labelNames: ['outcome'],
      registers,
      collect() {
        const m = ingest.view().messages;
        this.reset();
        this.inc({ outcome: 'stored' }, m.stored);
        this.inc({ outcome: 'ignored' }, m.ignored);
        this.inc({ outcome: 'dead_lettered' }, m.deadLettered);
        this.inc({ outcome: 'refused' }, m.refused);
      },
    });
    new Gauge({
      name: 'twin_ingest_messages_pending',
      help: 'Messages taken from the broker and not committed yet',
      registers,
      collect() {
        this.set(ingest.view().messages.pending);
      },
    });
    const batchSize = new Histogram({
      name: 'twin_ingest_batch_messages',
      help: 'MQTT messages per committed ingest batch',
      buckets: BATCH_BUCKETS,
      registers,
    });
    const commitTime = new Histogram({
      name: 'twin_ingest_batch_commit_seconds',
      help: 'Time an ingest batch took from its start to its commit (retries included)',
      buckets: COMMIT_BUCKETS,
      registers,
    });
    const messageLatency = new Histogram({
      name: 'twin_ingest_message_commit_latency_seconds',
      help: 'Time from the moment this replica took an MQTT message from the broker to the commit of its batch, when its PUBACK leaves (time queued at the broker not included: MQTT carries no publish time)',
      buckets: COMMIT_BUCKETS,
      registers,
    });
    ingest.onBatchCommitted = (b) => {
      batchSize.observe(b.messages);
      commitTime.observe(b.commitSeconds);
      for (const at of b.receivedAt) messageLatency.observe(Math.max(0, b.committedAt - at) / 1000);
    };
    new Gauge({
      name: 'twin_ingest_broker_connected',
      help: '1 while the ingest is connected to its MQTT broker',
      registers,
      collect() {
        this.set(ingest.view().brokerConnected ? 1 : 0);
      },
    });
  }

  private journalMetrics(registers: Registry[]): void {
    const { feed, snapshots } = this;
    new Gauge({
      name: 'twin_journal_dispatched_seq',
      help: 'Highest journal seq the feed has dispatched to realtime, sync and other consumers',
      registers,
      collect() {
        this.set(Number(feed.head));
      },
    });
    optional(registers, 'twin_journal_head_seq', 'Newest committed journal seq', 'gauge', async () => {
      const { journalHead } = await snapshots.get();
      return journalHead === undefined ? undefined : Number(journalHead);
    });
    optional(
      registers,
      'twin_journal_feed_lag',
      'Committed journal entries the feed has not dispatched yet (newest committed seq - dispatched seq)',
      'gauge',
      async () => {
        const { journalHead } = await snapshots.get();
        return journalHead === undefined ? undefined : seqDistance(journalHead, feed.head);
      },
    );
    new Gauge({
      name: 'twin_journal_feed_listening',
      help: '1 while the journal feed holds its LISTEN connection',
      registers,
      collect() {
        this.set(feed.listening ? 1 : 0);
      },
    });
  }

  private realtimeMetrics(registers: Registry[]): void {
    const { ws, sse, realtime } = this;
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counter(
      'twin_websocket_events_delivered_total',
      'Events and live messages written to WebSocket clients',
      () => realtime.wsDelivered,
    );
    counter('twin_sse_events_delivered_total', 'Events written to SSE clients', () => realtime.sseDelivered);
    new Counter({
      name: 'twin_websocket_closes_total',
      help: 'WebSocket sessions ended, by close code (1000 normal, 1001 going away, 1006 dropped, 1008 policy, 1011 error, 4000 idle, 4008 backpressure)',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of realtime.wsClosesByCode()) this.inc({ code: String(code) }, n);
      },
    });
    new Counter({
      name: 'twin_sse_closes_total',
      help: 'SSE streams ended, by reason: overflow (the client fell behind the buffer limit and was dropped) or closed',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        this.inc({ reason: 'overflow' }, realtime.sseOverflows);
        this.inc({ reason: 'closed' }, realtime.sseClosed);
      },
    });
    new Gauge({
      name: 'twin_websocket_connections',
      help: 'Open /ws/2 WebSocket sessions',
      registers,
      collect() {
        this.set(ws.size);
      },
    });
    new Gauge({
      name: 'twin_sse_connections',
      help: 'Open server-sent event streams',
      registers,
      collect() {
        this.set(sse.size);
      },
    });
  }

  private dittoMetrics(registers: Registry[]): void {
    const { snapshots } = this;
    const gauge = (name: string, help: string, value: (s: DittoSyncStatus) => number | null | undefined) =>
      optional(registers, name, help, 'gauge', async () => {
        const { ditto } = await snapshots.get();
        return ditto ? (value(ditto) ?? undefined) : undefined;
      });
    gauge('twin_ditto_sync_enabled', '1 when DITTO_URL is set', (s) => (s.enabled ? 1 : 0));
    gauge(
      'twin_ditto_sync_active',
      '1 on the replica that runs the sync (holds the lock), 0 on a standby',
      (s) => (s.enabled ? (s.role === 'active' ? 1 : 0) : undefined),
    );
    gauge('twin_ditto_sync_connected', "1 while the sync's event stream from Ditto is connected", (s) =>
      s.connected === undefined ? undefined : s.connected ? 1 : 0,
    );
    gauge(
      'twin_ditto_sync_backlog_changes',
      'Journal changes not yet delivered to Ditto (a standby reports the last snapshot)',
      (s) => s.backlog?.changes,
    );
    gauge(
      'twin_ditto_sync_oldest_change_age_seconds',
      'Age of the oldest change not yet delivered to Ditto',
      (s) => (s.backlog ? (s.backlog.oldestChangeAgeSeconds ?? 0) : undefined),
    );
    gauge('twin_ditto_sync_failing_things', 'Things whose last sync attempt failed', (s) => s.failing?.total);
    const counter = (name: string, help: string, field: 'delivered' | 'retries' | 'eventsApplied') =>
      optional(registers, name, help, 'counter', async () => {
        const { ditto } = await snapshots.get();
        // Only the active replica's own counts; a standby's snapshot is another process's.
        const stats =
          ditto?.role === 'active' ? (ditto.stats as Record<string, unknown> | undefined) : undefined;
        const v = stats?.[field];
        return typeof v === 'number' ? v : undefined;
      });
    counter('twin_ditto_sync_delivered_total', 'Changes delivered to Ditto by this replica', 'delivered');
    counter(
      'twin_ditto_sync_retries_total',
      'Failed deliveries to Ditto that were retried (sync failures)',
      'retries',
    );
    counter(
      'twin_ditto_sync_events_applied_total',
      "Ditto's events applied to the twins here",
      'eventsApplied',
    );
    new Gauge({
      name: 'twin_metrics_source_up',
      help: '1 when a database-backed source answered within the scrape timeout, by source',
      labelNames: ['source'],
      registers,
      async collect() {
        const { failed } = await snapshots.get();
        this.reset();
        for (const source of ['journal', 'ditto_sync']) this.set({ source }, failed.includes(source) ? 0 : 1);
      },
    });
  }

  private poolMetrics(registers: Registry[]): void {
    const { tx } = this;
    const gauge = (name: string, help: string, field: 'total' | 'idle' | 'waiting' | 'max') =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers,
        collect() {
          for (const [pool, stats] of Object.entries(tx.poolStats())) this.set({ pool }, stats[field]);
        },
      });
    gauge('twin_db_pool_connections', 'Open connections of a PostgreSQL pool (main, query)', 'total');
    gauge('twin_db_pool_idle_connections', 'Idle connections of a PostgreSQL pool', 'idle');
    gauge('twin_db_pool_waiting_clients', 'Queries waiting for a connection of a PostgreSQL pool', 'waiting');
    gauge('twin_db_pool_max_connections', 'Size limit of a PostgreSQL pool', 'max');
    new Gauge({
      name: 'twin_db_pool_in_use_connections',
      help: 'Connections of a PostgreSQL pool checked out by a query or transaction (open - idle)',
      labelNames: ['pool'],
      registers,
      collect() {
        for (const [pool, stats] of Object.entries(tx.poolStats()))
          this.set({ pool }, stats.total - stats.idle);
      },
    });
  }
}

/**
 * A metric without labels whose value may be unknown (its source did not answer, or does not
 * apply): then the scrape leaves it out rather than showing a 0 that looks like a reading.
 * prom-client's Gauge always prints a value, so this implements the registry's metric shape.
 */
function optional(
  registers: Registry[],
  name: string,
  help: string,
  type: 'gauge' | 'counter',
  read: () => Promise<number | undefined>,
): void {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    async get() {
      const value = await read();
      return {
        name,
        help,
        type,
        aggregator: 'sum' as const,
        values: value === undefined ? [] : [{ value, labels: {} }],
      };
    },
  };
  for (const registry of registers) registry.registerMetric(metric as unknown as Metric);
}
