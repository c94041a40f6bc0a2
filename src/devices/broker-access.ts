import type { TLSSocket } from 'node:tls';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AuthenticateError, Client, ConnectPacket } from 'aedes';
import { ConfigService } from '../config/config.service.js';
import type { BrokerAccess } from '../ingest/broker-hooks.js';
import { certificateNames } from './certificate-identity.js';
import { BAD_USERNAME_OR_PASSWORD, decideConnect, SERVER_UNAVAILABLE } from './connect-decision.js';
import { DeviceCredentialsService } from './device-credentials.service.js';
import {
  deviceIdentity,
  mayPublish,
  mayReceive,
  maySubscribe,
  type BrokerIdentity,
} from './device-topics.js';
import { PlatformMqttLogin } from './platform-login.js';

/** Where refusals are counted (the ingest's stats, shown on /api/2/ingest/stats). */
export interface AccessCounters {
  refusedConnects: number;
  refusedPublishes: number;
  refusedSubscribes: number;
}

/**
 * Who may do what on the embedded broker (provided to it as BROKER_ACCESS):
 * - a device logs in with user name = client id = its thing id and password = its secret, and
 *   may publish only `things/<id>/{telemetry,ditto,status}` (its Last Will only to its status),
 *   subscribe only `things/<id>/desired` and `things/<id>/inbox/…`;
 * - the platform's client logs in with its per-process secret (PlatformMqttLogin) and may do
 *   anything; nobody else may use its client id, whatever the other credentials;
 * - MQTT_ANONYMOUS=true: clients without credentials are let in with no restriction (demos).
 * A refused CONNECT gets its CONNACK return code; a refused SUBSCRIBE is granted 0x80; a refused
 * PUBLISH makes aedes close the connection (MQTT 3.1.1 has no negative PUBACK). Each counts.
 */
@Injectable()
export class DeviceBrokerAccess {
  private readonly logger = new Logger('DeviceBrokerAccess');
  private readonly anonymous: boolean;
  private readonly identities = new WeakMap<Client, BrokerIdentity>();
  /** CONNECT packets between preConnect and authenticate, for the client id and the Last Will. */
  private readonly connects = new WeakMap<Client, ConnectPacket>();

  constructor(
    @Inject(DeviceCredentialsService) private readonly credentials: DeviceCredentialsService,
    @Inject(PlatformMqttLogin) private readonly platform: PlatformMqttLogin,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.anonymous = config.get('MQTT_ANONYMOUS');
    if (this.anonymous && !config.get('MQTT_URL')) {
      this.logger.warn(
        '!!! MQTT_ANONYMOUS=true: any client may connect to the embedded MQTT broker without credentials, ' +
          'publish as any device and subscribe to every device’s topics. For demos only. !!!',
      );
    }
  }

  /** The aedes hooks, counting refusals in `counters`. */
  hooks(counters: AccessCounters): BrokerAccess {
    return {
      preConnect: (client, packet, done) => {
        this.connects.set(client, packet);
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        const packet = this.connects.get(client);
        this.connects.delete(client);
        const refuse = (code: number, why: string): void => {
          counters.refusedConnects++;
          this.logger.debug(`refused CONNECT of '${packet?.clientId ?? client.id}': ${why}`);
          const err: AuthenticateError = Object.assign(new Error(why), { returnCode: code });
          done(err, null);
        };
        this.authenticate(client, packet, username, password).then(
          (refusal) => {
            if (refusal) refuse(refusal.code, refusal.why);
            else done(null, true);
          },
          (err: unknown) => {
            this.logger.error(`checking device credentials failed: ${(err as Error).message}`);
            refuse(SERVER_UNAVAILABLE, 'credentials cannot be checked right now');
          },
        );
      },
      authorizePublish: (client, packet, done) => {
        const identity = client ? this.identities.get(client) : undefined;
        if (identity && mayPublish(identity, packet.topic)) return done(null);
        counters.refusedPublishes++;
        done(new Error(`not authorized to publish to '${packet.topic}'`));
      },
      authorizeSubscribe: (client, sub, done) => {
        const identity = this.identities.get(client);
        if (identity && maySubscribe(identity, sub.topic)) return done(null, sub);
        counters.refusedSubscribes++;
        // null: aedes grants 0x80 (failure) for this filter and keeps the connection.
        done(null, null);
      },
      authorizeForward: (client, packet) => {
        const identity = this.identities.get(client);
        // Its subscriptions are its own already; this also holds for anything a session restored.
        return !identity || mayReceive(identity, packet.topic) ? packet : null;
      },
    };
  }

  /** undefined when the client may connect (its identity is then recorded), else why not. */
  private async authenticate(
    client: Client,
    packet: ConnectPacket | undefined,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<{ code: number; why: string } | undefined> {
    const decision = decideConnect(
      {
        clientId: packet?.clientId ?? client.id,
        username,
        hasPassword: password !== undefined,
        willTopic: packet?.will?.topic,
        certificate: clientCertificate(client),
      },
      {
        platformUsername: this.platform.username,
        platformClientId: this.platform.clientId,
        platformPasswordMatches: () => this.platform.matches(password),
        anonymous: this.anonymous,
      },
    );
    if (decision.outcome === 'refuse') return decision;
    if (decision.outcome === 'verify-secret') {
      if (!(await this.credentials.verify(decision.thingId, password!))) {
        return { code: BAD_USERNAME_OR_PASSWORD, why: 'wrong thing id or secret' };
      }
      this.identities.set(client, deviceIdentity(decision.thingId));
      return undefined;
    }
    this.identities.set(client, decision.identity);
    return undefined;
  }
}

/**
 * The client certificate of a TLS connection (MQTT_TLS_CA set): its names when the handshake
 * verified it, 'unverified' when it did not, undefined without one (or on plain TCP).
 */
function clientCertificate(client: Client): readonly string[] | 'unverified' | undefined {
  const conn = client.conn as Partial<TLSSocket>;
  if (typeof conn.getPeerCertificate !== 'function') return undefined;
  const cert = conn.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  return conn.authorized ? certificateNames(cert) : 'unverified';
}
