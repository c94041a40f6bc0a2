import { describe, expect, it } from '@jest/globals';
import {
  BAD_USERNAME_OR_PASSWORD,
  decideConnect,
  IDENTIFIER_REJECTED,
  NOT_AUTHORIZED,
  type ConnectAttempt,
  type ConnectRules,
} from './connect-decision.js';
import { ANONYMOUS_IDENTITY, deviceIdentity, PLATFORM_IDENTITY } from './device-topics.js';

const ID = 'org.acme:meter-1';
const rules = (over: Partial<ConnectRules> = {}): ConnectRules => ({
  platformUsername: '$platform',
  platformClientId: 'twin-ingest-host1',
  platformPasswordMatches: () => false,
  anonymous: false,
  ...over,
});
const device = (over: Partial<ConnectAttempt> = {}): ConnectAttempt => ({
  clientId: ID,
  username: ID,
  hasPassword: true,
  ...over,
});

describe('decideConnect: devices with a secret', () => {
  it('asks for the secret of the thing named by user name = client id', () => {
    expect(decideConnect(device(), rules())).toEqual({ outcome: 'verify-secret', thingId: ID });
    expect(decideConnect(device({ willTopic: `things/${ID}/status` }), rules())).toEqual({
      outcome: 'verify-secret',
      thingId: ID,
    });
  });

  it.each<[string, Partial<ConnectAttempt>, number]>([
    ['no user name', { username: undefined }, BAD_USERNAME_OR_PASSWORD],
    ['no password', { hasPassword: false }, BAD_USERNAME_OR_PASSWORD],
    ['no credentials at all', { username: undefined, hasPassword: false }, BAD_USERNAME_OR_PASSWORD],
    [
      'a user name that is no thing id',
      { username: 'meter-1', clientId: 'meter-1' },
      BAD_USERNAME_OR_PASSWORD,
    ],
    [
      'a wildcard in the thing id',
      { username: 'org.acme:#', clientId: 'org.acme:#' },
      BAD_USERNAME_OR_PASSWORD,
    ],
    [
      'NUL in the thing id',
      { username: 'org.acme:a\u0000b', clientId: 'org.acme:a\u0000b' },
      BAD_USERNAME_OR_PASSWORD,
    ],
    ['another device’s client id', { clientId: 'org.acme:meter-2' }, IDENTIFIER_REJECTED],
    ['a random client id', { clientId: 'mqttjs_1234' }, IDENTIFIER_REJECTED],
    ['a Last Will for another device', { willTopic: 'things/org.acme:meter-2/status' }, NOT_AUTHORIZED],
    ['a Last Will on its telemetry', { willTopic: `things/${ID}/telemetry` }, NOT_AUTHORIZED],
    ['a Last Will on $SYS', { willTopic: '$SYS/x' }, NOT_AUTHORIZED],
  ])('refuses %s', (_what, over, code) => {
    const d = decideConnect(device(over), rules());
    expect(d).toEqual({ outcome: 'refuse', code, why: expect.any(String) });
  });
});

describe('decideConnect: the platform’s session', () => {
  it('lets the platform in with its secret only', () => {
    const platform = { clientId: 'twin-ingest-host1', username: '$platform', hasPassword: true };
    expect(decideConnect(platform, rules({ platformPasswordMatches: () => true }))).toEqual({
      outcome: 'accept',
      identity: PLATFORM_IDENTITY,
    });
    expect(decideConnect(platform, rules())).toMatchObject({
      outcome: 'refuse',
      code: BAD_USERNAME_OR_PASSWORD,
    });
    expect(
      decideConnect({ ...platform, hasPassword: false }, rules({ platformPasswordMatches: () => true })),
    ).toMatchObject({ outcome: 'refuse', code: BAD_USERNAME_OR_PASSWORD });
  });

  it('refuses the platform’s client id to anyone else, even anonymous or with a certificate', () => {
    const takeover = { clientId: 'twin-ingest-host1', hasPassword: false };
    for (const r of [rules(), rules({ anonymous: true })]) {
      expect(decideConnect(takeover, r)).toMatchObject({ outcome: 'refuse', code: IDENTIFIER_REJECTED });
      expect(decideConnect({ ...takeover, username: ID, hasPassword: true }, r)).toMatchObject({
        outcome: 'refuse',
        code: IDENTIFIER_REJECTED,
      });
    }
    expect(decideConnect({ ...takeover, certificate: ['twin-ingest-host1'] }, rules())).toMatchObject({
      outcome: 'refuse',
      code: IDENTIFIER_REJECTED,
    });
  });
});

describe('decideConnect: MQTT_ANONYMOUS', () => {
  it('lets anyone in without restriction, but not as the platform', () => {
    expect(decideConnect({ clientId: 'x', hasPassword: false }, rules({ anonymous: true }))).toEqual({
      outcome: 'accept',
      identity: ANONYMOUS_IDENTITY,
    });
  });
});

describe('decideConnect: client certificates', () => {
  it('accepts a device whose verified certificate names its thing id, without a password', () => {
    const accepted = { outcome: 'accept', identity: deviceIdentity(ID) };
    expect(decideConnect({ clientId: ID, hasPassword: false, certificate: [ID] }, rules())).toEqual(accepted);
    expect(decideConnect(device({ hasPassword: false, certificate: ['other', ID] }), rules())).toEqual(
      accepted,
    );
    // Certificates are identity enough even where anonymous clients are let in.
    expect(
      decideConnect({ clientId: ID, hasPassword: false, certificate: [ID] }, rules({ anonymous: true })),
    ).toEqual(accepted);
  });

  it.each<[string, Partial<ConnectAttempt>, number]>([
    ['an untrusted certificate', { certificate: 'unverified' }, NOT_AUTHORIZED],
    ['a certificate of another device', { certificate: ['org.acme:meter-2'] }, NOT_AUTHORIZED],
    [
      'a certificate naming no thing id',
      { certificate: ['meter-1'], clientId: 'meter-1', username: undefined },
      NOT_AUTHORIZED,
    ],
    [
      'a user name other than the certificate’s',
      { certificate: [ID, 'org.acme:meter-2'], username: 'org.acme:meter-2' },
      IDENTIFIER_REJECTED,
    ],
    [
      'another client id',
      { certificate: [ID], username: undefined, clientId: 'org.acme:meter-2' },
      NOT_AUTHORIZED,
    ],
    [
      'a Last Will for another device',
      { certificate: [ID], willTopic: 'things/org.acme:meter-2/status' },
      NOT_AUTHORIZED,
    ],
  ])('refuses %s', (_what, over, code) => {
    expect(decideConnect(device({ hasPassword: false, ...over }), rules())).toMatchObject({
      outcome: 'refuse',
      code,
    });
  });

  it('refuses an untrusted certificate even where anonymous clients are let in', () => {
    expect(
      decideConnect(
        { clientId: 'x', hasPassword: false, certificate: 'unverified' },
        rules({ anonymous: true }),
      ),
    ).toMatchObject({ outcome: 'refuse', code: NOT_AUTHORIZED });
  });
});
