import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { redactUrl } from '../common/redact-url.js';
import { ConfigService } from '../config/config.service.js';
import { PlatformMqttLogin } from '../devices/platform-login.js';
import { IngestBatcher } from './ingest.batcher.js';
import { IngestStats } from './ingest-stats.js';
import { MqttBroker } from './mqtt-broker.js';
import { assertMqttClientInternals, sendPuback, takeWithoutAck } from './mqtt-internals.js';

const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 30_000;

/**
 * The ingest's MQTT client: a persistent session (clean: false, stable client id) subscribed at
 * QoS 1 to the device topics, through a shared subscription on an external broker so replicas
 * split the load. Every message goes to the batcher with a callback that sends its PUBACK,
 * which the batcher calls only once the message's batch has committed.
 */
@Injectable()
export class MqttConnection implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('MqttConnection');
  private client: MqttClient | undefined;
  /** Bumped on every (re)connect: a PUBACK is only sent on the connection the message came on. */
  private epoch = 0;
  private failures = 0;
  private corked = false;
  /** Set once the shutdown ends the connection: its close is then no loss to warn about. */
  private ending = false;
  private subscribedEpoch = -1;
  private subscribedOnce!: () => void;
  /** Resolves once the device topics are subscribed for the first time. */
  readonly ready = new Promise<void>((ok) => (this.subscribedOnce = ok));

  constructor(
    @Inject(MqttBroker) private readonly broker: MqttBroker,
    @Inject(IngestBatcher) private readonly batcher: IngestBatcher,
    @Inject(IngestStats) private readonly stats: IngestStats,
    @Inject(ConfigService) private readonly config: ConfigService,
    @Inject(PlatformMqttLogin) private readonly login: PlatformMqttLogin,
  ) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Connected and subscribed on the current connection. */
  get subscribed(): boolean {
    return this.connected && this.subscribedEpoch === this.epoch;
  }

  /** The subscriptions: shared on an external broker; Aedes knows no `$share` and has no peers. */
  get filter(): string {
    return this.broker.embedded ? 'things/#' : `$share/${this.config.get('MQTT_SHARE_GROUP')}/things/#`;
  }

  onApplicationBootstrap(): void {
    const url = this.broker.platformUrl;
    // Shown in logs and on /api/2/ingest/stats: without the broker password of the URL.
    const shown = redactUrl(url);
    this.stats.brokerUrl = redactUrl(this.broker.url);
    const options: IClientOptions = {
      clientId: this.login.clientId,
      clean: false,
      reconnectPeriod: RECONNECT_FIRST_MS,
      connectTimeout: 10_000,
      resubscribe: false,
      // mqtt.js formats a debug line for every packet even when nobody listens: a measurable
      // share of the ingest's CPU. Connection events are logged by us instead.
      log: () => undefined,
      // Aedes speaks MQTT 3.1.1 only. With MQTT 5 the broker honours our receive maximum, so a
      // whole batch can be in flight unacknowledged (MQTT 3.1.1 brokers allow ~20). On the
      // embedded broker the platform logs in with its per-process secret (devices cannot take
      // its client id); an external broker gets the credentials of MQTT_URL, which mqtt.js reads.
      ...(this.broker.embedded
        ? { protocolVersion: 4, username: this.login.username, password: this.login.password }
        : {
            protocolVersion: 5,
            properties: {
              // A replica that comes back within this finds what was queued for it.
              sessionExpiryInterval: this.config.get('MQTT_SESSION_EXPIRY_SECONDS'),
              receiveMaximum: Math.min(65_535, 2 * this.config.get('INGEST_BATCH_MAX')),
            },
          }),
    };
    const client = mqtt.connect(url, options);
    this.client = client;
    assertMqttClientInternals(client);
    takeWithoutAck(client, (packet) => this.take(packet));
    client.on('connect', (connack) => {
      this.epoch++;
      this.failures = 0;
      client.options.reconnectPeriod = RECONNECT_FIRST_MS;
      this.stats.brokerConnected = true;
      this.logger.log(
        `connected to ${shown} as ${options.clientId} (session present: ${connack.sessionPresent})`,
      );
      this.subscribe(client).catch((err: unknown) =>
        this.logger.error(`subscribing to ${this.filter} failed: ${(err as Error).message}`),
      );
    });
    client.on('close', () => {
      if (this.ending) {
        if (this.stats.brokerConnected) this.logger.log(`disconnected from ${shown} for the shutdown`);
      } else if (this.stats.brokerConnected) {
        this.logger.warn(`lost the connection to ${shown}; reconnecting`);
      }
      this.stats.brokerConnected = false;
      // Capped exponential backoff on top of mqtt.js's fixed reconnect period.
      this.failures++;
      client.options.reconnectPeriod = Math.min(
        RECONNECT_MAX_MS,
        RECONNECT_FIRST_MS * 2 ** (this.failures - 1),
      );
    });
    client.on('error', (err) => {
      if (this.failures <= 1 || this.failures % 10 === 0) {
        this.logger.warn(`MQTT ${shown}: ${err.message} (attempt ${this.failures})`);
      }
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    const client = this.client;
    // Leave the shared subscription before draining: Mosquitto 2 goes on handing an offline
    // member of a share group its share, queued for its session (up to max_queued_messages,
    // then dropped), so a replica that stops for a restart, or for good, would hold its share
    // until it returns. Unsubscribed, the broker gives everything to the replicas that are up;
    // what is already in flight to this one is still committed and acknowledged below, or
    // redelivered to its session when it comes back.
    if (client && this.subscribed && !this.broker.takesDeviceMessages) {
      const timeout = new Promise<void>((ok) => setTimeout(ok, 2000).unref());
      await Promise.race([
        client.unsubscribeAsync(this.filter).then(
          () => this.logger.log(`left ${this.filter} for the shutdown`),
          (err: unknown) => this.logger.warn(`unsubscribing from ${this.filter}: ${(err as Error).message}`),
        ),
        timeout,
      ]);
    }
    await this.batcher.stop();
    if (!client) return;
    // A graceful end flushes pending desired-state publishes; a dead broker must not hold up shutdown.
    this.ending = true;
    const timeout = new Promise<void>((ok) => setTimeout(ok, 2000).unref());
    await Promise.race([client.endAsync(false), timeout]);
    if (!client.disconnected) await client.endAsync(true);
  }

  /** QoS 1 publish; while disconnected mqtt.js queues it and sends it after reconnecting. */
  async publish(topic: string, payload: string, retain: boolean): Promise<void> {
    if (!this.client) throw new Error('the MQTT client has not started');
    await this.client.publishAsync(topic, payload, { qos: 1, retain });
  }

  private async subscribe(client: MqttClient): Promise<void> {
    const epoch = this.epoch;
    if (this.broker.takesDeviceMessages) {
      // The embedded broker hands device messages to the ingest itself, acknowledging them after
      // commit (broker-intake.ts): a subscription here would ingest each one a second time.
      this.subscribedEpoch = epoch;
      this.becomeReady();
      return;
    }
    const granted = await client.subscribeAsync(this.filter, { qos: 1 });
    const refused = granted.filter((g) => g.qos !== 0 && g.qos !== 1 && g.qos !== 2);
    if (refused.length > 0) throw new Error(`the broker refused ${this.filter} (code ${refused[0].qos})`);
    this.logger.log(`subscribed to ${this.filter} at QoS 1`);
    this.subscribedEpoch = epoch;
    this.becomeReady();
  }

  /** The ingest takes messages now: the embedded broker lets devices in (MqttBroker). */
  private becomeReady(): void {
    this.broker.acceptDevices();
    this.subscribedOnce();
  }

  /**
   * A batch acknowledges thousands of messages in one go: held back until the tick ends, their
   * PUBACKs leave in a few large writes instead of a system call each.
   */
  private corkUntilNextTick(client: MqttClient): void {
    if (this.corked) return;
    const stream = client.stream;
    stream.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  private take(packet: IPublishPacket): void {
    const epoch = this.epoch;
    const { qos, messageId } = packet;
    this.batcher.submit(
      {
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        receivedAt: Date.now(),
        retained: packet.retain,
      },
      () => {
        if (qos === 0 || messageId === undefined) return;
        // On a newer connection the broker redelivers the message itself; the history dedups it.
        if (epoch !== this.epoch || !this.client?.connected) return;
        this.corkUntilNextTick(this.client);
        sendPuback(this.client, messageId);
      },
    );
  }
}
