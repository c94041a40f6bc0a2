import { describe, expect, it } from '@jest/globals';
import { parseDeviceMessage, type DeviceMessage } from './device-contract.js';

const NOW = Date.parse('2024-05-10T12:00:00Z');
const LIMITS = { maxPayloadBytes: 1024, maxFutureSkewMs: 60_000 };
const THING = 'org.example:meter-1';

function parse(payload: string, channel = 'telemetry', thingId = THING): DeviceMessage {
  return parseDeviceMessage(
    {
      topic: `things/${thingId}/${channel}`,
      payload: Buffer.from(payload),
      receivedAt: NOW,
      retained: false,
    },
    LIMITS,
  );
}

/** The history row of a reading of that message, as telemetry makes it. */
const row = (path: string, value: string) => ({
  thingId: THING,
  featureId: 'energy',
  path,
  ts: '2024-05-10T11:59:00.000Z',
  seq: 3,
  value,
});

const reasonOf = (m: DeviceMessage): string => (m.kind === 'rejected' ? m.reason : m.kind);

describe('the device contract', () => {
  it('reads a telemetry message into one reading per leaf, at the device time', () => {
    expect(
      parse('{"ts":"2024-05-10T11:59:00Z","seq":3,"features":{"energy":{"power":5,"status":{"level":2}}}}'),
    ).toEqual({
      kind: 'telemetry',
      thingId: THING,
      time: NOW - 60_000,
      seq: 3,
      leaves: [
        { featureId: 'energy', path: ['power'], value: 5 },
        { featureId: 'energy', path: ['status', 'level'], value: 2 },
      ],
      rows: [row('power', '5'), row('status/level', '2')],
    });
  });

  it('takes epoch milliseconds as ts, and the receive time without one', () => {
    expect(parse(`{"ts":${NOW - 5},"features":{"f":{"v":1}}}`)).toMatchObject({ time: NOW - 5, seq: null });
    expect(parse('{"features":{"f":{}}}')).toEqual({
      kind: 'telemetry',
      thingId: THING,
      time: NOW,
      seq: null,
      leaves: [],
      rows: [],
    });
  });

  // The reasons follow telemetry's rules for a reading, which the contract applies as it decodes.
  it.each([
    ['{"features":{"f":{"v":1e400}}}', 'non_finite_number'],
    ['{"ts":1e400,"features":{"f":{"v":1}}}', 'non_finite_number'],
    ['{"features":{"f":{"v":NaN}}}', 'json_invalid'],
    ['{"ts":"1715342400000","features":{"f":{"v":1}}}', 'schema_invalid'],
    ['{"ts":"10000-01-01T00:00:00Z","features":{"f":{"v":1}}}', 'schema_invalid'],
    [`{"ts":${NOW + 3_600_000},"features":{"f":{"v":1}}}`, 'timestamp_in_future'],
    ['{"seq":"3","features":{"f":{"v":1}}}', 'schema_invalid'],
    ['{"seq":-1,"features":{}}', 'schema_invalid'],
    ['{"features":{"*":{}}}', 'schema_invalid'],
    ['{"features":{"f":{"a/b":1}}}', 'schema_invalid'],
    ['{"features":{"f":{"":1}}}', 'schema_invalid'],
    ['{"features":{"f":{"v":"a\\u0000b"}}}', 'schema_invalid'],
    ['{"features":{"f":{"v":"\\ud800"}}}', 'schema_invalid'],
    ['{"features":{"f":5}}', 'schema_invalid'],
  ])('%s is a dead letter: %s', (payload, reason) => {
    const parsed = parse(payload);
    expect(reasonOf(parsed)).toBe(reason);
    expect(parsed).toMatchObject({ thingId: THING, message: expect.stringMatching(/./) });
  });

  it('refuses an invalid thing id in the topic on every channel', () => {
    for (const channel of ['telemetry', 'status', 'ditto']) {
      expect(parse('{"features":{}}', channel, 'no-namespace')).toMatchObject({
        kind: 'rejected',
        reason: 'thing_id_invalid',
        thingId: null,
      });
    }
  });

  it('reads a status with its own time, and refuses a non-finite number in a command', () => {
    expect(parse(`{"status":"offline","ts":${NOW - 1}}`, 'status')).toEqual({
      kind: 'status',
      thingId: THING,
      online: false,
      time: NOW - 1,
    });
    const command =
      '{"topic":"org.example/meter-1/things/twin/commands/modify","path":"/attributes/a","value":1e999}';
    expect(reasonOf(parse(command, 'ditto'))).toBe('non_finite_number');
  });
});
