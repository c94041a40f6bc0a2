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
    // Searches, counts and history reads run on a pool of their own with a statement timeout,
    // so expensive queries can neither run unbounded nor take the connections writes need.
    QUERY_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(4),
    QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
    EMBEDDED_PG_DIR: z.string().min(1).default('./.data'),
    EMBEDDED_PG_PORT: z.coerce.number().int().min(0).max(65535).default(5433),
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
    AUTO_CREATE_THINGS: flag(true),
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
    TELEMETRY_RETENTION_DAYS: int(0, 36_500, 30),

    // Realtime push (realtime/)
    WS_MAX_CONNECTIONS: int(1, 1_000_000, 10_000),
    SSE_MAX_CONNECTIONS: int(1, 1_000_000, 10_000),
    WS_BUFFER_MAX_BYTES: int(1024, 1024 ** 3, 4 * 1024 * 1024),
    WS_PING_INTERVAL_MS: int(1000, 3_600_000, 30_000),
    WS_IDLE_TIMEOUT_MS: int(0, 86_400_000, 0),
    SSE_HEARTBEAT_MS: int(100, 3_600_000, 1000),

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
  })
  .superRefine((c, ctx) => {
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
