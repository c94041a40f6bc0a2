import { describe, expect, it } from '@jest/globals';
import {
  ANONYMOUS_IDENTITY,
  deviceIdentity,
  mayPublish,
  mayReceive,
  maySubscribe,
  PLATFORM_IDENTITY,
  statusTopic,
  usableOverMqtt,
} from './device-topics.js';

const me = deviceIdentity('org.acme:meter-1');

describe('mayPublish', () => {
  it.each([
    ['things/org.acme:meter-1/telemetry', true],
    ['things/org.acme:meter-1/ditto', true],
    ['things/org.acme:meter-1/status', true],
    ['things/org.acme:meter-1/desired', false],
    ['things/org.acme:meter-1/inbox/x', false],
    ['things/org.acme:meter-1/telemetry/extra', false],
    ['things/org.acme:meter-1/', false],
    ['things/org.acme:meter-1', false],
    ['things/org.acme:meter-2/telemetry', false],
    ['things/org.acme:meter-10/telemetry', false],
    ['things/org.acme:meter/telemetry', false],
    ['Things/org.acme:meter-1/telemetry', false],
    ['$SYS/broker/x', false],
    ['other/topic', false],
  ])('a device: %s → %s', (topic, allowed) => {
    expect(mayPublish(me, topic)).toBe(allowed);
  });

  it('the platform and anonymous clients anything but $SYS', () => {
    for (const who of [PLATFORM_IDENTITY, ANONYMOUS_IDENTITY]) {
      expect(mayPublish(who, 'things/org.acme:meter-2/desired')).toBe(true);
      expect(mayPublish(who, '$SYS/broker/clients')).toBe(false);
    }
  });
});

describe('maySubscribe / mayReceive', () => {
  it.each([
    ['things/org.acme:meter-1/desired', true],
    ['things/org.acme:meter-1/inbox/#', true],
    ['things/org.acme:meter-1/inbox/messages/+', true],
    ['#', false],
    ['+/+/+', false],
    ['things/#', false],
    ['things/+/desired', false],
    ['things/org.acme:meter-1/#', false],
    ['things/org.acme:meter-1/+', false],
    ['things/org.acme:meter-1/telemetry', false],
    ['things/org.acme:meter-2/desired', false],
    ['$SYS/#', false],
    ['$share/g/things/org.acme:meter-1/desired', false],
  ])('a device subscribing %s → %s', (filter, allowed) => {
    expect(maySubscribe(me, filter)).toBe(allowed);
  });

  it('a device receives only its own desired state and inbox', () => {
    expect(mayReceive(me, 'things/org.acme:meter-1/desired')).toBe(true);
    expect(mayReceive(me, 'things/org.acme:meter-1/inbox/messages/reboot')).toBe(true);
    expect(mayReceive(me, 'things/org.acme:meter-2/desired')).toBe(false);
    expect(mayReceive(me, 'things/org.acme:meter-1/telemetry')).toBe(false);
    expect(mayReceive(PLATFORM_IDENTITY, 'things/org.acme:meter-2/telemetry')).toBe(true);
  });

  it('the platform may subscribe to everything', () => {
    expect(maySubscribe(PLATFORM_IDENTITY, 'things/#')).toBe(true);
  });
});

describe('usableOverMqtt / statusTopic', () => {
  it('refuses thing ids with MQTT wildcards', () => {
    expect(usableOverMqtt('org.acme:meter-1')).toBe(true);
    expect(usableOverMqtt('org.acme:a+b')).toBe(false);
    expect(usableOverMqtt('org.acme:a#')).toBe(false);
  });

  it('names the only topic of a Last Will', () => {
    expect(statusTopic('org.acme:meter-1')).toBe('things/org.acme:meter-1/status');
  });
});
