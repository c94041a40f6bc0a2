import { totalmem } from 'node:os';
import { z } from 'zod';
import { redactUrl } from '../common/redact-url.js';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** z.coerce.boolean() reads "false" as true; settings want the words. */
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A duration as `24h` (s, m, h, d) or ISO 8601 (`PT24H`, `P1D`), to milliseconds. */
const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const short = /^(\d{1,9})([smhd])$/.exec(v);
      const iso = /^P(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,6})S)?)?$/.exec(v);
      const ms = short
        ? Number(short[1]) * DURATION_UNITS[short[2]]
        : iso && v !== 'P' && !v.endsWith('T')
          ? ((Number(iso[1] ?? 0) * 24 + Number(iso[2] ?? 0)) * 60 + Number(iso[3] ?? 0)) * 60_000 +
            Number(iso[4] ?? 0) * 1000
          : NaN;
      if (!(ms >= 1000)) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be a duration such as 24h, 30m or PT24H (at least 1s)',
        });
        return z.NEVER;
      }
      return ms;
    });

/**
 * What an administrator would give PostgreSQL here: a quarter of the memory (the usual rule),
 * within 128 MB (PostgreSQL's own default) and 4 GB (a million things with their policies and
 * indexes take about 2.2 GB). Mapped when the server starts, used as pages are read.
 */
export function defaultSharedBuffersMb(memoryBytes = usableMemory()): number {
  return Math.min(4096, Math.max(128, Math.floor(memoryBytes / 4 / 2 ** 20)));
}

/**
 * The machine's memory, or a container's limit when lower: in a container `totalmem()` is the
 * host's, and a cache sized from it would get the embedded server killed as its pages fill.
 */
export function usableMemory(
  total = totalmem(),
  limit: number | undefined = process.constrainedMemory?.(),
): number {
  // No limit reads as 0, undefined or a huge number (cgroup v2's "max"), depending on Node.
  return limit !== undefined && limit > 0 && limit < total ? limit : total;
}

/** Every setting the platform reads, with defaults. Names are part of the public contract. */
export const configSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    HOST: z.string().min(1).default('0.0.0.0'),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    // Reads of things by id running at once; the ids asked for meanwhile share the next statement.
    THING_READ_STATEMENTS: z.coerce.number().int().min(1).max(100).default(2),
    // Named statements for the repositories' fixed SQL; false behind a pooler that cannot keep them.
    DATABASE_PREPARED_STATEMENTS: flag(true),
    // Searches, counts and history reads run on a pool of their own with a statement timeout,
    // so expensive queries can neither run unbounded nor take the connections writes need.
    QUERY_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(4),
    QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
    // How long such a query may wait for one of those connections before it is answered 408.
    QUERY_QUEUE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    EMBEDDED_PG_DIR: z.string().min(1).default('./.data'),
    EMBEDDED_PG_PORT: z.coerce.number().int().min(0).max(65535).default(5433),
    // PostgreSQL's own cache. Its default of 128 MB holds about 60,000 things with their policies:
    // past that, a search reads its matches' pages from the kernel, twice the CPU at a million.
    EMBEDDED_PG_SHARED_BUFFERS_MB: int(16, 1_048_576, defaultSharedBuffersMb()),
    LOG_LEVEL: z.enum(logLevels).default('info'),
    DEFAULT_NAMESPACE: z
      .string()
      .regex(/^[a-zA-Z]\w*(?:[.-][a-zA-Z]\w*)*$/, 'must be a Ditto namespace such as org.example')
      .default('org.eclipse.ditto'),
    THING_MAX_SIZE_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(100 * 1024),
    // Longer request URLs are answered 414 (Ditto: 8k). Request line and headers together are
    // capped by Node's --max-http-header-size (16 KiB by default), answered 431.
    HTTP_MAX_URL_LENGTH: z.coerce.number().int().min(256).max(1_000_000).default(8192),
    // The plain GET of a thing and of a search answered without Nest's routing (direct-reads.ts);
    // false sends them through the routes like every other request.
    HTTP_DIRECT_READS: flag(true),
    // On SIGTERM, how long requests already accepted may take to be answered before the
    // database closes (Kubernetes waits 30 s by default before it kills the pod).
    HTTP_SHUTDOWN_DRAIN_MS: int(0, 120_000, 10_000),
    // What one query may ask for (common/query-limits.ts); over it is Ditto's 400.
    RQL_MAX_NODES: int(1, 10_000, 1000),
    RQL_MAX_SORT_KEYS: int(1, 64, 16),
    FIELDS_MAX_ENTRIES: int(1, 10_000, 200),

    // MQTT ingestion (ingest/, telemetry/)
    MQTT_URL: z
      .string()
      .regex(/^(mqtts?|tcp|ssl|wss?):\/\//, 'must be an mqtt:// (or mqtts://, ws://) URL')
      .optional(),
    MQTT_PORT: int(0, 65535, 1883),
    MQTT_CLIENT_ID: z.string().min(1).optional(),
    MQTT_SHARE_GROUP: z
      .string()
      .regex(/^[^/#+]+$/, 'must not contain / # or +')
      .default('twin-platform'),
    // How long an external broker keeps this replica's session (and the QoS 1 messages queued
    // for it) after the connection drops without it coming back: the bound on what a crashed
    // replica holds back, and on what is lost if it never returns. 4294967295 = never.
    MQTT_SESSION_EXPIRY_SECONDS: int(60, 4_294_967_295, 86_400),
    AUTO_CREATE_THINGS: flag(true),
    // The embedded broker without device identity (anyone may publish or subscribe anything): demos only.
    MQTT_ANONYMOUS: flag(false),
    // The embedded broker with TLS (mqtts) on MQTT_PORT: PEM files of its certificate and key. With
    // MQTT_TLS_CA, devices may sign in with a client certificate issued by that CA whose CN or a URI
    // SAN is their thing id (instead of a secret).
    MQTT_TLS_CERT: z.string().min(1).optional(),
    MQTT_TLS_KEY: z.string().min(1).optional(),
    MQTT_TLS_CA: z.string().min(1).optional(),
    // How long a device's previous secret stays valid after its credentials are rotated.
    DEVICE_SECRET_GRACE_SECONDS: int(0, 86400 * 30, 3600),
    // The policy things created by devices link; created at start when missing, granting
    // DEVICE_POLICY_SUBJECTS (default: the first AUTH_USERS user, else the generated user ditto).
    DEVICE_POLICY_ID: z
      .string()
      .regex(
        /^[a-zA-Z]\w*(?:[.-][a-zA-Z]\w*)*:[^\s/]{1,200}$/,
        'must be a policy id such as org.example:devices',
      )
      .optional(),
    DEVICE_POLICY_SUBJECTS: z
      .string()
      .regex(
        /^[^\s,:]+:[^\s,]+(,[^\s,:]+:[^\s,]+)*$/,
        'must be a comma-separated list of subjects such as nginx:alice',
      )
      .optional(),
    // Who may read the operator endpoints (ingest stats and dead letters, sync status), like
    // Ditto's devops user; default: the first AUTH_USERS user, else the generated user ditto.
    AUTH_OPERATOR_SUBJECTS: z
      .string()
      .regex(
        /^[^\s,:]+:[^\s,]+(,[^\s,:]+:[^\s,]+)*$/,
        'must be a comma-separated list of subjects such as nginx:alice',
      )
      .optional(),
    DEVICE_INACTIVITY_TIMEOUT: int(0, 86400 * 7, 300),
    INGEST_BATCH_MS: int(1, 10_000, 20),
    // Big enough that a busy fleet's batches hold several readings per device: a batch costs per
    // device written, not per reading. The broker may have twice this unacknowledged with us.
    INGEST_BATCH_MAX: int(1, 100_000, 20_000),
    // Bounds a batch's payloads (and so its transaction) when messages are large.
    INGEST_BATCH_MAX_BYTES: int(64 * 1024, 1024 ** 3, 8 * 1024 * 1024),
    // Each batch commits as this many transactions, one per share of the devices, so one's twin
    // writes do not wait for the other's row locks. Each takes a pooled connection (two batches).
    INGEST_LANES: int(1, 16, 2),
    INGEST_MAX_PAYLOAD_BYTES: int(16, 16 * 1024 * 1024, 64 * 1024),
    INGEST_MAX_FUTURE_SKEW_MS: int(0, 86400_000 * 365, 60_000),
    // Readings (and status times) before this instant are dead letters: no partition holds them.
    INGEST_MIN_TIMESTAMP: z
      .string()
      .refine(
        (v) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(v) && !Number.isNaN(Date.parse(v)),
        {
          message: 'must be an ISO 8601 date or instant such as 2000-01-01',
        },
      )
      .default('2000-01-01T00:00:00Z')
      .transform((v) => Date.parse(v)),
    // Things devices may create per minute (AUTO_CREATE_THINGS); beyond it their messages are dead letters.
    AUTO_CREATE_PER_MINUTE: int(0, 1_000_000, 600),
    // Embedded broker bounds (ingest/broker-intake.ts). A larger PUBLISH closes the connection before
    // its payload is buffered; 0 means twice INGEST_MAX_PAYLOAD_BYTES (a payload between the two is
    // a payload_too_large dead letter, as on any broker).
    MQTT_MAX_PACKET_BYTES: int(0, 256 * 1024 * 1024, 0),
    MQTT_MAX_RETAINED_PER_DEVICE: int(0, 1_000_000, 10),
    MQTT_MAX_RETAINED: int(0, 100_000_000, 10_000),
    // A device's messages the ingest takes at once; the next wait, in order, until earlier ones commit.
    MQTT_MAX_INFLIGHT_PER_DEVICE: int(1, 1_000_000, 1000),
    DEAD_LETTER_RETENTION_DAYS: int(0, 36_500, 7),
    DEAD_LETTER_MAX_BYTES: int(1024, 1024 ** 4, 256 * 1024 * 1024),
    TELEMETRY_RETENTION_DAYS: int(0, 36_500, 30),
    // Thing history (twins/history/): journal rows older than this many days are deleted (0 keeps
    // everything), never those the Ditto sync or the desired-state publisher have yet to push.
    JOURNAL_RETENTION_DAYS: int(0, 36_500, 0),
    // How often the search index's pending entries are merged in the background; 0: never (then
    // the write that overflows the pending list merges it, a stall of ~100 ms under load).
    SEARCH_INDEX_UPKEEP_MS: int(0, 3_600_000, 1000),
    // A historical read replays at most this many journal rows from the nearest snapshot.
    HISTORY_SNAPSHOT_EVERY: int(2, 1_000_000, 1000),

    // Realtime push (realtime/)
    WS_MAX_CONNECTIONS: int(1, 1_000_000, 10_000),
    SSE_MAX_CONNECTIONS: int(1, 1_000_000, 10_000),
    WS_BUFFER_MAX_BYTES: int(1024, 1024 ** 3, 4 * 1024 * 1024),
    WS_PING_INTERVAL_MS: int(1000, 3_600_000, 30_000),
    WS_IDLE_TIMEOUT_MS: int(0, 86_400_000, 0),
    // A streaming subscription (history over /ws/2) without a request for this long fails (Ditto: 60 s).
    WS_STREAMING_IDLE_TIMEOUT_MS: int(100, 86_400_000, 60_000),
    SSE_HEARTBEAT_MS: int(100, 3_600_000, 1000),

    // Live messages (messages/): requests waiting for a device's answer, per thing and in all
    // (beyond them 429), and the largest payload a message or an answer may carry.
    MESSAGES_MAX_PENDING: int(1, 10_000_000, 10_000),
    MESSAGES_MAX_PENDING_PER_THING: int(1, 1_000_000, 100),
    MESSAGES_MAX_PAYLOAD_BYTES: int(1, 64 * 1024 * 1024, 250 * 1024),

    // Two-way sync with an Eclipse Ditto (ditto/); unset DITTO_URL means no sync.
    DITTO_URL: z
      .string()
      .regex(/^https?:\/\/[^/?#]+(\/[^?#]*)?$/, 'must be an http:// or https:// URL')
      .optional(),
    DITTO_USERNAME: z.string().min(1).optional(),
    DITTO_PASSWORD: z.string().min(1).optional(),
    DITTO_TOKEN: z.string().min(1).optional(),
    DITTO_NAMESPACES: z
      .string()
      .regex(
        /^\s*([a-zA-Z]\w*(?:[.-][a-zA-Z]\w*)*\s*(,\s*[a-zA-Z]\w*(?:[.-][a-zA-Z]\w*)*\s*)*)?$/,
        'must be a comma-separated list of Ditto namespaces',
      )
      .default(''),
    DITTO_SYNC_CONCURRENCY: int(1, 1000, 16),
    DITTO_REQUEST_TIMEOUT_MS: int(100, 600_000, 10_000),
    DITTO_RETRY_MAX_MS: int(100, 3_600_000, 30_000),

    // Authentication (auth/). With none of AUTH_USERS, AUTH_USERS_FILE, AUTH_OIDC_ISSUERS and
    // AUTH_PRE_AUTHENTICATED set, a generated user `ditto` guards the API (see README).
    AUTH_USERS: z.string().optional(),
    AUTH_USERS_FILE: z.string().min(1).optional(),
    AUTH_OIDC_ISSUERS: z.string().optional(),
    AUTH_OIDC_TIMEOUT_MS: int(100, 60_000, 5000),
    AUTH_PRE_AUTHENTICATED: flag(false),
    AUTH_ANONYMOUS: flag(false),
    AUTH_FAILURE_LIMIT: int(1, 1_000_000, 20),
    RATE_LIMIT_PER_SECOND: int(0, 10_000_000, 5000),
    // Origins (scheme://host[:port]) allowed to open /ws/2 from a browser besides the platform's own; `*` for any.
    CORS_ORIGINS: z.string().default(''),

    // Operations (metrics/): when set, GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>`.
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),

    // Forecasting (forecasting/): targets, retraining, drift and the worker threads that run the models.
    FORECAST_ENABLED: flag(true),
    // How often each target's model is retrained: a number with a unit (30m, 24h, 7d) or ISO 8601 (PT24H).
    FORECAST_RETRAIN_EVERY: duration('24h'),
    // Days of history a model learns from (the last week of it is the holdout).
    FORECAST_TRAIN_DAYS: int(3, 365, 56),
    // A retrain starts when the active model's rolling error exceeds its holdout error × this factor.
    FORECAST_DRIFT_FACTOR: z.coerce.number().min(1).max(100).default(1.5),
    // Readings compared before drift may be declared.
    FORECAST_DRIFT_MIN_READINGS: int(1, 100_000, 16),
    FORECAST_WORKERS: int(1, 16, 1),
    FORECAST_TRAIN_TIMEOUT_MS: int(100, 3_600_000, 120_000),
    // 0 times every inference out: the twins get the seasonal-naive forecast, flagged.
    FORECAST_INFERENCE_TIMEOUT_MS: int(0, 600_000, 10_000),
    // Jobs waiting for a forecast worker; beyond it training and forecasts are refused and deferred.
    FORECAST_QUEUE_MAX: int(1, 100_000, 100),
    // The scheduler's period: retraining when due, refreshed forecasts, drift checks.
    FORECAST_TICK_MS: int(100, 3_600_000, 60_000),
    // A replica training a target holds its lease this long (renewed per training).
    FORECAST_LEASE_MS: int(1000, 86_400_000, 600_000),
    FORECAST_RUN_RETENTION_DAYS: int(1, 3650, 30),
    // Use the histories of appliance and sub-meter twins (attributes/partOf) in their parent's model.
    FORECAST_TOPOLOGY: flag(true),
  })
  .superRefine((c, ctx) => {
    if ((c.MQTT_TLS_CERT === undefined) !== (c.MQTT_TLS_KEY === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.MQTT_TLS_CERT === undefined ? 'MQTT_TLS_CERT' : 'MQTT_TLS_KEY'],
        message: 'MQTT_TLS_CERT and MQTT_TLS_KEY go together',
      });
    }
    if (c.MQTT_TLS_CA !== undefined && c.MQTT_TLS_CERT === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['MQTT_TLS_CA'],
        message: 'MQTT_TLS_CA (client certificates) needs MQTT_TLS_CERT and MQTT_TLS_KEY',
      });
    }
    if ((c.DITTO_USERNAME === undefined) !== (c.DITTO_PASSWORD === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.DITTO_USERNAME === undefined ? 'DITTO_USERNAME' : 'DITTO_PASSWORD'],
        message: 'DITTO_USERNAME and DITTO_PASSWORD go together',
      });
    }
    if (c.DITTO_TOKEN !== undefined && c.DITTO_USERNAME !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['DITTO_TOKEN'],
        message: 'use either DITTO_TOKEN or DITTO_USERNAME/DITTO_PASSWORD, not both',
      });
    }
  });

export type AppConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; an empty variable counts as unset so `FOO=` falls back to the default. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const input = Object.fromEntries(
    Object.keys(configSchema.shape).flatMap((k) =>
      env[k] === undefined || env[k] === '' ? [] : [[k, env[k]]],
    ),
  );
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0]);
        return `${i.path.join('.')}: ${i.message}${shownValue(name, input[name])}`;
      }),
    );
  }
  return parsed.data;
}

const SECRET_NAME = /PASSWORD|TOKEN|SECRET|USERS|KEY/;

/** Errors end up in logs: a secret's value is never echoed, a URL's credentials are cut out. */
function shownValue(name: string, value: string | undefined): string {
  if (value === undefined) return '';
  if (SECRET_NAME.test(name) || name.endsWith('_ISSUERS')) return ' (value not shown)';
  return ` (got ${JSON.stringify(name.endsWith('_URL') ? redactUrl(value) : value)})`;
}
