import { describe, expect, it } from '@jest/globals';
import {
  bodyFromBytes,
  bodyFromValue,
  bodyToBytes,
  decodeWireMessage,
  durationSeconds,
  encodeWireMessage,
  isMessageEnvelopeTopic,
  isMessageTopic,
  messageEnvelope,
  messageResource,
  messageTopic,
  parseMessageEnvelope,
  parseMessageTopic,
  subjectProblem,
  type WireMessage,
} from './messages.js';

describe('message topics', () => {
  it('builds and parses thing and feature mailboxes, subjects of several levels included', () => {
    const cases = [
      { thingId: 'ns:a', mailbox: 'inbox' as const, subject: 'reboot' },
      { thingId: 'ns:a', mailbox: 'outbox' as const, subject: 'ask/question' },
      { thingId: 'ns:a', featureId: 'lamp', mailbox: 'inbox' as const, subject: 'switch/on' },
      // A thing-level subject that starts like a feature path stays a thing-level subject.
      { thingId: 'ns:a', mailbox: 'inbox' as const, subject: 'features/x/inbox' },
    ];
    for (const a of cases) expect(parseMessageTopic(messageTopic(a))).toEqual(a);
    expect(messageTopic(cases[2])).toBe('things/ns:a/features/lamp/inbox/switch/on');
  });

  it('tells message topics from the device contract', () => {
    expect(isMessageTopic('things/ns:a/inbox/x')).toBe(true);
    expect(isMessageTopic('things/ns:a/features/f/outbox/x')).toBe(true);
    expect(isMessageTopic('things/ns:a/telemetry')).toBe(false);
    expect(isMessageTopic('things/ns:a/inbox')).toBe(false);
    expect(parseMessageTopic('things/ns:a/inbox/a//b')).toBeUndefined();
    expect(parseMessageTopic('things/ns:a/desired')).toBeUndefined();
  });

  it('refuses subjects MQTT could read as wildcards, empty levels and overlong ones', () => {
    expect(subjectProblem('a/b')).toBeUndefined();
    for (const bad of ['', 'a/+', '#', 'a//b', 'x'.repeat(257), 'a\u0000'])
      expect(subjectProblem(bad)).toBeDefined();
  });

  it("names Ditto's message resources", () => {
    expect(messageResource({ mailbox: 'inbox', subject: 'a/b' })).toEqual(['inbox', 'messages', 'a', 'b']);
    expect(messageResource({ featureId: 'f', mailbox: 'outbox', subject: 's' })).toEqual([
      'features',
      'f',
      'outbox',
      'messages',
      's',
    ]);
  });
});

describe('payloads', () => {
  it('reads bytes by content type: JSON must parse, text must be UTF-8, anything else is binary', () => {
    expect(bodyFromBytes('application/json', Buffer.from('{"a":1}'))).toEqual({
      kind: 'json',
      contentType: 'application/json',
      value: { a: 1 },
    });
    expect(bodyFromBytes('application/json', Buffer.from('{'))).toHaveProperty('problem');
    expect(bodyFromBytes('text/plain; charset=utf-8', Buffer.from([0xff]))).toHaveProperty('problem');
    expect(bodyFromBytes('image/png', Buffer.from([0xff]))).toMatchObject({ kind: 'binary' });
    expect(bodyFromBytes(undefined, Buffer.alloc(0))).toEqual({ kind: 'none' });
  });

  it('round-trips every kind through the MQTT payload', () => {
    const bodies = [
      bodyFromValue('application/json', { a: [1, 'x'] }),
      bodyFromValue('text/plain', 'hi'),
      bodyFromValue('application/octet-stream', Buffer.from([1, 2, 255]).toString('base64')),
      bodyFromValue(undefined, undefined),
    ];
    for (const body of bodies) {
      if ('problem' in body) throw new Error(body.problem);
      const m: WireMessage = {
        thingId: 'ns:a',
        subject: 's',
        mailbox: 'inbox',
        headers: { x: '1' },
        body,
        correlationId: 'c',
        timeout: 5,
      };
      const back = decodeWireMessage('things/ns:a/inbox/s', Buffer.from(encodeWireMessage(m)));
      if ('problem' in back) throw new Error(back.problem);
      expect(bodyToBytes(back.body)).toEqual(bodyToBytes(body));
      expect(back).toMatchObject({ correlationId: 'c', timeout: 5, headers: { x: '1' } });
    }
  });

  it("takes a device's bare payload (not a JSON object) as the message itself", () => {
    const m = decodeWireMessage('things/ns:a/outbox/alarm', Buffer.from('fire!'));
    expect(m).toMatchObject({ mailbox: 'outbox', subject: 'alarm', body: { kind: 'text', value: 'fire!' } });
  });

  it('refuses an answer whose status is not an HTTP status', () => {
    const m = decodeWireMessage('things/ns:a/outbox/s', Buffer.from('{"correlationId":"c","status":99}'));
    expect(m).toHaveProperty('problem');
  });
});

describe('Ditto protocol envelopes', () => {
  it('renders a message as Ditto does (topic, path, direction, headers)', () => {
    const env = messageEnvelope({
      thingId: 'org.acme:coffee',
      featureId: 'tank',
      subject: 'heatUp',
      mailbox: 'inbox',
      headers: {},
      body: { kind: 'text', contentType: 'text/plain', value: 'now' },
      correlationId: 'c1',
      timeout: 10,
    });
    expect(env).toEqual({
      topic: 'org.acme/coffee/things/live/messages/heatUp',
      path: '/features/tank/inbox/messages/heatUp',
      value: 'now',
      headers: {
        'thing-id': 'org.acme:coffee',
        'feature-id': 'tank',
        subject: 'heatUp',
        direction: 'TO',
        'content-type': 'text/plain',
        'correlation-id': 'c1',
        timeout: '10',
        'response-required': true,
      },
    });
  });

  it('reads a response envelope, header names in any case', () => {
    const m = parseMessageEnvelope({
      topic: 'org.acme/coffee/things/live/messages/ask',
      headers: { 'Correlation-ID': 'c', 'Content-Type': 'text/plain' },
      path: '/outbox/messages/ask',
      value: 'no',
      status: 418,
    });
    expect(m).toMatchObject({
      thingId: 'org.acme:coffee',
      mailbox: 'outbox',
      correlationId: 'c',
      status: 418,
    });
    expect(
      parseMessageEnvelope({ topic: 'a/b/things/live/messages/x', path: '/inbox/messages/y' }),
    ).toHaveProperty('problem');
  });

  it('tells live message topics from twin commands', () => {
    expect(isMessageEnvelopeTopic('ns/t/things/live/messages/a/b')).toBe(true);
    expect(isMessageEnvelopeTopic('ns/t/things/twin/commands/modify')).toBe(false);
    expect(isMessageEnvelopeTopic('ns/t/x/things/live/messages/a')).toBe(false);
  });

  it("reads Ditto's timeout header forms", () => {
    expect([
      durationSeconds('10'),
      durationSeconds('10s'),
      durationSeconds('1500ms'),
      durationSeconds('1m'),
    ]).toEqual([10, 10, 2, 60]);
    expect(durationSeconds('soon')).toBeUndefined();
  });
});

describe('device contract topics', () => {
  it('builds and parses them; anything else is not one', async () => {
    const { deviceTopic, parseDeviceTopic } = await import('./device-topics.js');
    expect(parseDeviceTopic(deviceTopic('ns:a', 'desired'))).toEqual({ thingId: 'ns:a', channel: 'desired' });
    for (const t of [
      'things/ns:a/inbox/x',
      'things//telemetry',
      'things/ns:a/telemetry/x',
      'other/ns:a/status',
    ]) {
      expect(parseDeviceTopic(t)).toBeUndefined();
    }
  });
});

describe('event topics', () => {
  it('builds thing and policy event topics and parses thing ones back', async () => {
    const { eventTopic, parseThingEventTopic } = await import('./events.js');
    expect(eventTopic('org.acme:lamp:1', 'thing', 'merged')).toBe(
      'org.acme/lamp:1/things/twin/events/merged',
    );
    expect(eventTopic('org.acme:p', 'policy', 'created')).toBe('org.acme/p/policies/events/created');
    expect(parseThingEventTopic('org.acme/lamp:1/things/twin/events/merged')).toEqual({
      thingId: 'org.acme:lamp:1',
      action: 'merged',
    });
    expect(parseThingEventTopic('org.acme/lamp/things/live/events/merged')).toBeNull();
    expect(parseThingEventTopic('org.acme/lamp/things/twin/events/exploded')).toBeNull();
  });
});
