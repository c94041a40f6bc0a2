import { randomBytes, randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { redactUrl } from '../common/redact-url.js';
import { ConfigService } from '../config/config.service.js';
import { PlatformMqttLogin } from '../devices/platform-login.js';
import { MqttBroker } from '../ingest/mqtt-broker.js';
import {
  decodeWireMessage,
  encodeWireMessage,
  messageTopic,
  MESSAGE_TOPIC_FILTERS,
  type WireMessage,
} from '../protocol/messages.js';

export type WireListener = (message: WireMessage) => void;

/**
 * This replica's MQTT connection for live messages.
 *
 * Why not the ingest's connection: that one consumes `things/#` through a *shared* subscription
 * (`$share/<group>/…`), so each device message reaches exactly one replica — right for telemetry,
 * wrong here. The answer to a message must reach the replica holding the waiting HTTP request (or
 * WebSocket), and a message must reach the `/ws/2` clients of every replica. So each replica has
 * its own clean session subscribed, *not* shared, to the message topics only
 * (MESSAGE_TOPIC_FILTERS): every replica sees every message and answer, and each keeps only the
 * answers whose correlation id it waits for (PendingAnswers) and hands the rest to its own
 * WebSocket sessions. Messages are small and rare next to telemetry; the fan-out costs one
 * delivery per replica. Everything goes through the broker, also on one replica, so a WebSocket
 * client's answer travels the same way as a device's.
 */
@Injectable()
export class MessageBus implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('MessageBus');
  private client: MqttClient | undefined;
  private readonly listeners = new Set<WireListener>();
  private subscribedOnce!: () => void;
  private isSubscribed = false;
  /** Resolves once the message topics are subscribed for the first time. */
  readonly ready = new Promise<void>((ok) => (this.subscribedOnce = ok));
  private readonly maxPayload: number;

  constructor(
    @Inject(MqttBroker) private readonly broker: MqttBroker,
    @Inject(PlatformMqttLogin) private readonly login: PlatformMqttLogin,
    @Inject(ConfigService) config: ConfigService,
  ) {
    // An answer carries its payload as JSON (binary as base64): room for that and the envelope.
    this.maxPayload = 2 * config.get('MESSAGES_MAX_PAYLOAD_BYTES') + 64 * 1024;
  }

  get subscribed(): boolean {
    return this.isSubscribed && (this.client?.connected ?? false);
  }

  onApplicationBootstrap(): void {
    const url = this.broker.platformUrl;
    const shown = redactUrl(url);
    // Its own client id per process: a clean, non-persistent session (answers are only useful now).
    const clientId = `${this.login.clientId}-messages-${randomBytes(4).toString('hex')}`;
    const options: IClientOptions = {
      clientId,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      log: () => undefined,
      ...(this.broker.embedded
        ? { protocolVersion: 4, username: this.login.username, password: this.login.password }
        : { protocolVersion: 5 }),
    };
    const client = mqtt.connect(url, options);
    this.client = client;
    client.on('connect', () => {
      this.isSubscribed = false;
      client.subscribeAsync([...MESSAGE_TOPIC_FILTERS], { qos: 1 }).then(
        (granted) => {
          const refused = granted.filter((g) => g.qos !== 0 && g.qos !== 1 && g.qos !== 2);
          if (refused.length > 0) {
            this.logger.error(`the broker refused ${refused.map((g) => g.topic).join(', ')}`);
            return;
          }
          this.isSubscribed = true;
          this.subscribedOnce();
        },
        (err: unknown) =>
          this.logger.error(`subscribing to the message topics failed: ${(err as Error).message}`),
      );
    });
    client.on('message', (topic, payload) => this.take(topic, payload));
    client.on('error', (err) => this.logger.warn(`MQTT ${shown}: ${err.message}`));
  }

  async beforeApplicationShutdown(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const timeout = new Promise<void>((ok) => setTimeout(ok, 1000).unref());
    await Promise.race([client.endAsync(false), timeout]);
    if (!client.disconnected) await client.endAsync(true);
  }

  /** Every message and answer on the message topics, of every replica. */
  listen(listener: WireListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** QoS 1; waits for the subscription first (at most `waitMs`), false when the broker is away. */
  async publish(message: WireMessage, waitMs = 5000): Promise<boolean> {
    const client = this.client;
    if (!client) return false;
    if (!this.subscribed) {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((ok) => (timer = setTimeout(ok, waitMs)));
      await Promise.race([this.ready, gaveUp]);
      clearTimeout(timer);
      if (!this.subscribed) return false;
    }
    await client.publishAsync(messageTopic(message), encodeWireMessage(message), { qos: 1 });
    return true;
  }

  private take(topic: string, payload: Buffer): void {
    if (payload.length > this.maxPayload) {
      this.logger.debug(`dropped a message of ${payload.length} bytes on ${topic.slice(0, 200)}`);
      return;
    }
    const decoded = decodeWireMessage(topic, payload);
    if ('problem' in decoded) {
      this.logger.debug(`dropped a message on ${topic.slice(0, 200)}: ${decoded.problem}`);
      return;
    }
    // A device may publish without a correlation-id; Ditto's protocol gives every message one,
    // so this replica names it once for all its listeners. An answer without one stays without:
    // it answers nothing.
    const message =
      decoded.correlationId === undefined && decoded.status === undefined
        ? { ...decoded, correlationId: randomUUID() }
        : decoded;
    for (const l of this.listeners) l(message);
  }
}
