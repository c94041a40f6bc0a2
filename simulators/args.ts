import { parseArgs } from 'node:util';
import { DEFAULT_NAMESPACE, type ProfileName } from './contract.js';
import { FleetOptionsError, resolveFleetOptions, type FleetOptions } from './options.js';
import {
  DEFAULT_INFLIGHT,
  DEFAULT_STEP_MINUTES,
  parseBackfill,
  resolveHomesOptions,
  type HomesBackfillOptions,
} from './homes-fleet.js';

/** Parsing and validation of the simulate command line, apart from cli.ts so it can be tested. */

export const DEFAULT_BROKER = 'mqtt://127.0.0.1:1883';

export const USAGE = `Usage: npm run simulate -- [options]

Runs a fleet of simulated MQTT devices against a broker (see simulators/README.md).

  --profile <name>            energy | climate | machine | homes (default energy)
  --devices <n>               number of devices, each its own MQTT client (default 10)
  --rate <r>                  readings per second per device, may be below 1 (default 1)
  --broker <url>              broker URL (default $MQTT_URL or ${DEFAULT_BROKER})
  --namespace <ns>            thing id namespace (default ${DEFAULT_NAMESPACE})
  --first <n>                 number of the first device, <ns>:<profile>-<n> (default 1)
  --seed <s>                  makes signals and faults repeatable (default random, printed)
  --count <n>                 stop after n readings per device
  --duration <seconds>        stop after this long
  --duplicate-rate <p>        probability a reading is published twice (default 0)
  --out-of-order-rate <p>     probability a reading is held back behind a newer one (default 0)
  --malformed-rate <p>        probability a malformed message accompanies a reading (default 0)
  --disconnect-every <s>      drop each connection without DISCONNECT this often (Last Will fires)
  --username <u>              broker user (default $MQTT_USERNAME; with only a password, each device's thingId)
  --password <p>              broker password (default $MQTT_PASSWORD)
  --api <url>                 provision the devices on this platform first (POST /api/2/devices/provision;
                              default $TWIN_API_URL): each logs in as itself with its own secret
  --api-user <name:password>  the platform user that provisions (default $TWIN_API_USER)
  --credentials <file>        JSON {"<thingId>": "<secret>", …}: log in with these instead
  --clean                     use clean sessions (default: persistent sessions)
  --json                      print the final summary as JSON
  -h, --help                  show this help

Without --count or --duration it runs until Ctrl-C.

Homes (--profile homes): homes of sub-metered appliances, each home and appliance a twin
(appliances declare attributes/partOf), sent as a backfill of timestamped readings:
  --backfill <span>           history to send, ending now: 60d, 36h, 90m (required)
  --live <span>               then go on live for this long, a reading per step as its time comes
  --devices <n>               number of homes (default 10)
  --step <minutes>            minutes between readings (default ${DEFAULT_STEP_MINUTES})
  --inflight <n>              publishes awaiting their PUBACK at a time (default ${DEFAULT_INFLIGHT})
  --seed, --broker, --namespace, --username, --password, --api, --api-user, --credentials, --json
                              as above; with --api the topology attributes are set on the twins
`;

/** Where the devices' own secrets come from, if anywhere. */
export type CredentialsSource = { kind: 'api'; api: string; user: string } | { kind: 'file'; path: string };

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'run'; options: FleetOptions; json: boolean; credentials?: CredentialsSource }
  | { kind: 'homes'; options: HomesBackfillOptions; json: boolean; credentials?: CredentialsSource };

export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** The flag each option is set by, so validation messages name what the user typed. */
const FLAGS: Record<string, string> = {
  durationSeconds: '--duration',
  disconnectEverySeconds: '--disconnect-every',
  'faults.duplicate': '--duplicate-rate',
  'faults.outOfOrder': '--out-of-order-rate',
  'faults.malformed': '--malformed-rate',
};
const flagOf = (option: string): string => FLAGS[option] ?? `--${option}`;

const optionConfig = {
  profile: { type: 'string' },
  devices: { type: 'string' },
  rate: { type: 'string' },
  broker: { type: 'string' },
  namespace: { type: 'string' },
  first: { type: 'string' },
  seed: { type: 'string' },
  count: { type: 'string' },
  duration: { type: 'string' },
  'duplicate-rate': { type: 'string' },
  'out-of-order-rate': { type: 'string' },
  'malformed-rate': { type: 'string' },
  'disconnect-every': { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  api: { type: 'string' },
  'api-user': { type: 'string' },
  credentials: { type: 'string' },
  backfill: { type: 'string' },
  live: { type: 'string' },
  step: { type: 'string' },
  inflight: { type: 'string' },
  clean: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Reads the command line; throws CliError naming every problem. */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): CliCommand {
  let values: ReturnType<typeof parse>['values'];
  try {
    ({ values } = parse(argv));
  } catch (err) {
    // node:util names the flag but also suggests '--' for positionals, which we take none of.
    throw new CliError((err as Error).message.replace(/\. To specify a positional.*$/s, '.'));
  }
  if (values.help) return { kind: 'help' };

  const problems: string[] = [];
  const unreadable = new Set<string>();
  const num = (flag: keyof typeof values, fallback?: number): number | undefined => {
    const text = values[flag];
    if (typeof text !== 'string') return fallback;
    const value = text.trim() === '' ? NaN : Number(text);
    if (!Number.isFinite(value)) {
      problems.push(`--${flag} must be a number (got ${JSON.stringify(text)})`);
      unreadable.add(`--${flag}`);
    }
    return value;
  };

  const options: FleetOptions = {
    profile: (values.profile ?? 'energy') as ProfileName,
    devices: num('devices', 10) as number,
    rate: num('rate', 1) as number,
    broker: values.broker ?? (env.MQTT_URL || DEFAULT_BROKER),
    namespace: values.namespace ?? DEFAULT_NAMESPACE,
    first: num('first', 1),
    seed: values.seed,
    count: num('count'),
    durationSeconds: num('duration'),
    disconnectEverySeconds: num('disconnect-every'),
    faults: {
      duplicate: num('duplicate-rate', 0),
      outOfOrder: num('out-of-order-rate', 0),
      malformed: num('malformed-rate', 0),
    },
    username: values.username ?? (env.MQTT_USERNAME || undefined),
    password: values.password ?? (env.MQTT_PASSWORD || undefined),
    clean: values.clean ?? false,
  };
  if (values.seed !== undefined && values.seed.trim() === '') problems.push('--seed must not be empty');
  try {
    resolveFleetOptions(options, flagOf);
  } catch (err) {
    if (!(err instanceof FleetOptionsError)) throw err;
    // A flag that is not a number at all has been reported already.
    problems.push(
      ...err.problems.filter(
        (p) =>
          !unreadable.has(p.split(' ')[0]) && !(values.profile === 'homes' && p.startsWith('--profile ')),
      ),
    );
  }
  const api = values.api ?? (env.TWIN_API_URL || undefined);
  const apiUser = values['api-user'] ?? (env.TWIN_API_USER || undefined);
  let credentials: CredentialsSource | undefined;
  if (api !== undefined && values.credentials !== undefined) {
    problems.push('--api and --credentials exclude each other');
  } else if (values.credentials !== undefined) {
    credentials = { kind: 'file', path: values.credentials };
  } else if (api !== undefined) {
    if (!/^https?:\/\/[^/\s]+/.test(api))
      problems.push(`--api must be an http(s) URL (got ${JSON.stringify(api)})`);
    if (apiUser === undefined || !/^[^:]+:.+$/.test(apiUser))
      problems.push('--api needs --api-user name:password');
    else credentials = { kind: 'api', api, user: apiUser };
  }
  if (values.profile === 'homes') {
    return homesCommand(values, options, num, problems, credentials);
  }
  for (const flag of ['backfill', 'live', 'step', 'inflight'] as const) {
    if (values[flag] !== undefined) problems.push(`--${flag} is for --profile homes`);
  }
  if (problems.length > 0) throw new CliError(problems.join('\n'));
  return { kind: 'run', options, json: values.json ?? false, ...(credentials ? { credentials } : {}) };
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: optionConfig, strict: true, allowPositionals: false });
}

type ParsedValues = ReturnType<typeof parse>['values'];

/** `--profile homes`: the fleet's common options plus the backfill's own. */
function homesCommand(
  values: ParsedValues,
  fleet: FleetOptions,
  num: (flag: keyof ParsedValues, fallback?: number) => number | undefined,
  problems: string[],
  credentials: CredentialsSource | undefined,
): CliCommand {
  const ignored = [
    'rate',
    'first',
    'count',
    'duration',
    'duplicate-rate',
    'out-of-order-rate',
    'malformed-rate',
  ];
  for (const flag of [...ignored, 'disconnect-every'] as const) {
    if (values[flag as keyof ParsedValues] !== undefined)
      problems.push(`--${flag} does not apply to --profile homes`);
  }
  let days: number | undefined;
  if (values.backfill === undefined) problems.push('--profile homes needs --backfill, e.g. --backfill 60d');
  else {
    days = parseBackfill(values.backfill);
    if (days === undefined)
      problems.push(
        `--backfill must be a span such as 60d, 36h or 90m (got ${JSON.stringify(values.backfill)})`,
      );
  }
  let liveDays: number | undefined;
  if (values.live !== undefined) {
    liveDays = parseBackfill(values.live);
    if (liveDays === undefined)
      problems.push(`--live must be a span such as 7d or 12h (got ${JSON.stringify(values.live)})`);
  }
  const options: HomesBackfillOptions = {
    broker: fleet.broker,
    namespace: fleet.namespace ?? DEFAULT_NAMESPACE,
    homes: fleet.devices,
    days: days ?? 1,
    stepMinutes: num('step', DEFAULT_STEP_MINUTES) as number,
    inflight: num('inflight', DEFAULT_INFLIGHT),
    ...(liveDays !== undefined ? { liveDays } : {}),
    seed: fleet.seed ?? String(Math.floor(Math.random() * 2 ** 32)),
    ...(fleet.username !== undefined ? { username: fleet.username } : {}),
    ...(fleet.password !== undefined ? { password: fleet.password } : {}),
  };
  if (problems.length === 0)
    problems.push(...resolveHomesOptions(options).map((p) => `--profile homes: ${p}`));
  if (problems.length > 0) throw new CliError(problems.join('\n'));
  return { kind: 'homes', options, json: values.json ?? false, ...(credentials ? { credentials } : {}) };
}
