import { isValidThingId } from '../twins/model/thing-id.js';
import {
  ANONYMOUS_IDENTITY,
  deviceIdentity,
  PLATFORM_IDENTITY,
  statusTopic,
  usableOverMqtt,
  type BrokerIdentity,
} from './device-topics.js';

/** MQTT 3.1.1 CONNACK return codes (aedes' AuthErrorCode is a const enum, not importable). */
export const IDENTIFIER_REJECTED = 2;
export const SERVER_UNAVAILABLE = 3;
export const BAD_USERNAME_OR_PASSWORD = 4;
export const NOT_AUTHORIZED = 5;

/** What a CONNECT carries that the decision needs. */
export interface ConnectAttempt {
  clientId: string;
  username?: string;
  hasPassword: boolean;
  /** The topic of the Last Will, if the CONNECT has one. */
  willTopic?: string;
  /**
   * A client certificate's identities (its CN and URI SANs) once the TLS handshake verified it
   * against MQTT_TLS_CA; undefined without a certificate; 'unverified' for a certificate that
   * did not verify.
   */
  certificate?: readonly string[] | 'unverified';
}

export interface ConnectRules {
  platformUsername: string;
  platformClientId: string;
  /** Whether the password is the platform's per-process secret (checked in constant time). */
  platformPasswordMatches: () => boolean;
  /** MQTT_ANONYMOUS=true: clients without credentials get in, with no restriction. */
  anonymous: boolean;
}

export type ConnectDecision =
  | { outcome: 'refuse'; code: number; why: string }
  | { outcome: 'accept'; identity: BrokerIdentity }
  /** Accepted once the password is the device's secret (an async scrypt check). */
  | { outcome: 'verify-secret'; thingId: string };

const refuse = (code: number, why: string): ConnectDecision => ({ outcome: 'refuse', code, why });

/**
 * Who may connect to the embedded broker, and as whom, before any secret is checked:
 * - the platform's client: user name `$platform` with the per-process secret; nobody else may
 *   use its client id (whose persistent session holds what was published while it was away);
 * - a device with a verified client certificate whose CN or a URI SAN is its thing id: client
 *   id = that thing id, user name absent or the same, no password needed; an untrusted
 *   certificate is refused rather than ignored;
 * - MQTT_ANONYMOUS=true: anyone else, unrestricted (demos);
 * - a device with a password: user name = client id = a thing id usable over MQTT, its Last Will
 *   (if any) only to its own status topic; the secret is verified afterwards.
 * The client id is compared before the (costly) secret: one device must not take over another's
 * session, and wrong ids cost nothing to refuse.
 */
export function decideConnect(attempt: ConnectAttempt, rules: ConnectRules): ConnectDecision {
  const { clientId, username } = attempt;
  if (username === rules.platformUsername) {
    if (!attempt.hasPassword || !rules.platformPasswordMatches())
      return refuse(BAD_USERNAME_OR_PASSWORD, 'wrong platform secret');
    return { outcome: 'accept', identity: PLATFORM_IDENTITY };
  }
  if (clientId === rules.platformClientId) {
    return refuse(IDENTIFIER_REJECTED, 'the client id is the platform’s own');
  }
  const cert = attempt.certificate;
  if (cert === 'unverified') return refuse(NOT_AUTHORIZED, 'the client certificate is not trusted');
  if (cert !== undefined) {
    // The device claims one of the certificate's identities by its user name, else its client id.
    const claimed = username ?? clientId;
    if (!cert.includes(claimed) || !isValidThingId(claimed) || !usableOverMqtt(claimed))
      return refuse(NOT_AUTHORIZED, 'the client certificate does not name this thing id');
    if (clientId !== claimed) return refuse(IDENTIFIER_REJECTED, 'the client id must be the thing id');
    return willDecision(attempt, claimed) ?? { outcome: 'accept', identity: deviceIdentity(claimed) };
  }
  if (rules.anonymous) return { outcome: 'accept', identity: ANONYMOUS_IDENTITY };
  if (username === undefined || !attempt.hasPassword) {
    return refuse(BAD_USERNAME_OR_PASSWORD, 'no credentials (user name = thing id, password = secret)');
  }
  if (!isValidThingId(username) || !usableOverMqtt(username)) {
    return refuse(BAD_USERNAME_OR_PASSWORD, 'the user name is not a thing id');
  }
  if (clientId !== username) return refuse(IDENTIFIER_REJECTED, 'the client id must be the thing id');
  return willDecision(attempt, username) ?? { outcome: 'verify-secret', thingId: username };
}

function willDecision(attempt: ConnectAttempt, thingId: string): ConnectDecision | undefined {
  const status = statusTopic(thingId);
  if (attempt.willTopic !== undefined && attempt.willTopic !== status) {
    return refuse(NOT_AUTHORIZED, `a Last Will may only go to ${status}`);
  }
  return undefined;
}
