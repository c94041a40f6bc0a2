import { describe, expect, it } from '@jest/globals';
import { CliError, DEFAULT_BROKER, parseCliArgs, USAGE } from '../../../simulators/args.js';
import { FleetOptionsError, resolveFleetOptions } from '../../../simulators/options.js';

function errorOf(argv: string[]): string {
  try {
    parseCliArgs(argv);
  } catch (err) {
    if (err instanceof CliError) return err.message;
    throw err;
  }
  return 'no error';
}

describe('simulate command line', () => {
  it('has defaults for everything', () => {
    expect(parseCliArgs([])).toEqual({
      kind: 'run',
      json: false,
      options: expect.objectContaining({
        profile: 'energy',
        devices: 10,
        rate: 1,
        broker: DEFAULT_BROKER,
        namespace: 'org.example.sim',
        first: 1,
        clean: false,
        faults: { duplicate: 0, outOfOrder: 0, malformed: 0 },
      }),
    });
  });

  it('reads every flag', () => {
    const command = parseCliArgs(
      [
        '--devices=100',
        '--rate',
        '0.5',
        '--profile',
        'machine',
        '--broker',
        'mqtt://broker:1884',
        '--namespace',
        'org.acme',
        '--first',
        '101',
        '--seed',
        'demo',
        '--count',
        '20',
        '--duration',
        '90',
        '--duplicate-rate',
        '0.01',
        '--out-of-order-rate',
        '0.02',
        '--malformed-rate',
        '0.03',
        '--disconnect-every',
        '30',
        '--username',
        'u',
        '--password',
        'p',
        '--clean',
        '--json',
      ],
      {},
    );
    expect(command).toEqual({
      kind: 'run',
      json: true,
      options: {
        devices: 100,
        rate: 0.5,
        profile: 'machine',
        broker: 'mqtt://broker:1884',
        namespace: 'org.acme',
        first: 101,
        seed: 'demo',
        count: 20,
        durationSeconds: 90,
        faults: { duplicate: 0.01, outOfOrder: 0.02, malformed: 0.03 },
        disconnectEverySeconds: 30,
        username: 'u',
        password: 'p',
        clean: true,
      },
    });
  });

  it('takes the broker and credentials from the environment unless flags say otherwise', () => {
    const env = { MQTT_URL: 'mqtt://env:1883', MQTT_USERNAME: 'eu', MQTT_PASSWORD: 'ep' };
    expect(parseCliArgs([], env)).toMatchObject({
      options: { broker: 'mqtt://env:1883', username: 'eu', password: 'ep' },
    });
    expect(parseCliArgs(['--broker', 'mqtt://flag:1883'], env)).toMatchObject({
      options: { broker: 'mqtt://flag:1883' },
    });
  });

  it('answers --help and -h with the usage', () => {
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['-h', '--devices', 'x'])).toEqual({ kind: 'help' });
    expect(USAGE).toContain('--disconnect-every');
  });

  it.each([
    [['--devcies', '3'], "Unknown option '--devcies'"],
    [['extra'], "Unexpected argument 'extra'"],
    [['--devices'], "Option '--devices <value>' argument missing"],
    [['--rate', '-1'], "Option '--rate' argument is ambiguous"],
    [['--devices', 'abc'], '--devices must be a number (got "abc")'],
    [['--devices', ''], '--devices must be a number (got "")'],
    [['--devices', '0'], '--devices must be an integer from 1 to 100000 (got 0)'],
    [['--devices', '1.5'], '--devices must be an integer from 1 to 100000 (got 1.5)'],
    [['--rate', '0'], '--rate must be readings per second from 0.001 to 1000 (got 0)'],
    [['--rate=-1'], '--rate must be readings per second from 0.001 to 1000 (got -1)'],
    [['--profile', 'toaster'], '--profile must be one of energy, climate, machine (got "toaster")'],
    [['--broker', 'http://x'], '--broker must be a URL such as mqtt://127.0.0.1:1883 (got "http://x")'],
    [
      ['--namespace', 'bad ns'],
      '--namespace must be a Ditto namespace such as org.example.sim (got "bad ns")',
    ],
    [['--first=-1'], '--first must be a non-negative integer (got -1)'],
    [['--duplicate-rate', '1.5'], '--duplicate-rate must be a probability from 0 to 1 (got 1.5)'],
    [['--out-of-order-rate=-0.1'], '--out-of-order-rate must be a probability from 0 to 1 (got -0.1)'],
    [['--malformed-rate', 'often'], '--malformed-rate must be a number (got "often")'],
    [['--count', '0'], '--count must be a positive integer (got 0)'],
    [['--count', '2.5'], '--count must be a positive integer (got 2.5)'],
    [['--duration=-3'], '--duration must be a positive number (got -3)'],
    [['--disconnect-every', '0'], '--disconnect-every must be a positive number (got 0)'],
    [['--seed', ' '], '--seed must not be empty'],
  ])('refuses %j: %s', (argv, message) => {
    expect(errorOf(argv)).toContain(message);
  });

  it('reports every problem at once, each once', () => {
    const message = errorOf(['--devices', '0', '--rate', 'fast', '--profile', 'x', '--seed=']);
    expect(message.split('\n').sort()).toEqual([
      '--devices must be an integer from 1 to 100000 (got 0)',
      '--profile must be one of energy, climate, machine (got "x")',
      '--rate must be a number (got "fast")',
      '--seed must not be empty',
    ]);
  });
});

describe('resolveFleetOptions', () => {
  it('names options by their library names and fills defaults', () => {
    expect(() => resolveFleetOptions({ broker: 'mqtt://h', profile: 'energy', devices: 0, rate: 1 })).toThrow(
      new FleetOptionsError(['devices must be an integer from 1 to 100000 (got 0)']),
    );
    const resolved = resolveFleetOptions({ broker: 'mqtt://h', profile: 'climate', devices: 2, rate: 1 });
    expect(resolved).toMatchObject({ namespace: 'org.example.sim', first: 1, clean: false, record: false });
    expect(resolved.seed).toMatch(/^\d+$/);
  });
});
