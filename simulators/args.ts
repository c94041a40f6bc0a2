import { parseArgs } from 'node:util';
import { DEFAULT_NAMESPACE, type ProfileName } from './contract.js';
import { FleetOptionsError, resolveFleetOptions, type FleetOptions } from './options.js';

/** Parsing and validation of the simulate command line, apart from cli.ts so it can be tested. */

export const DEFAULT_BROKER = 'mqtt://127.0.0.1:1883';

export const USAGE = `Usage: npm run simulate -- [options]

Runs a fleet of simulated MQTT devices against a broker (see simulators/README.md).

  --profile <name>            energy | climate | machine (default energy)
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
  --clean                     use clean sessions (default: persistent sessions)
  --json                      print the final summary as JSON
  -h, --help                  show this help

Without --count or --duration it runs until Ctrl-C.`;

export type CliCommand = { kind: 'help' } | { kind: 'run'; options: FleetOptions; json: boolean };

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
    problems.push(...err.problems.filter((p) => !unreadable.has(p.split(' ')[0])));
  }
  if (problems.length > 0) throw new CliError(problems.join('\n'));
  return { kind: 'run', options, json: values.json ?? false };
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: optionConfig, strict: true, allowPositionals: false });
}
