import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AedesOptions, Client, PublishPacket } from 'aedes';
import { ConfigService } from '../config/config.service.js';
import { platformClientId } from '../devices/platform-login.js';
import { isMessageTopic } from '../protocol/messages.js';
import type { BrokerIntake } from './broker-hooks.js';
import type { InboundMessage } from './device-contract.js';
import { IngestBatcher } from './ingest.batcher.js';
import { IngestStats, type RefusalReason } from './ingest-stats.js';
import { isLastWill } from './mqtt-internals.js';

/** What one device (client id) has in the ingest: taken and not yet committed, and waiting. */
interface Inflight {
  count: number;
  waiting: (() => void)[];
}

/**
 * End-to-end acknowledgement on the embedded broker. Aedes (1.2, lib/handlers/publish.js) writes
 * a QoS 1 PUBACK as soon as `authorizePublish` calls back, before `published` runs, and it reads
 * no further packets of that client until every packet of the chunk it is handling has called
 * back. So a device's message is handed to the batcher here and the callback runs only once its
 * batch has committed (or made it a dead letter): a device is never told "stored" before it is,
 * and a device publishing faster than the database commits is slowed down by TCP itself. The
 * platform's own client therefore does not subscribe to device topics on the embedded broker
 * (MqttConnection): the loop-back would ingest every message a second time.
 *
 * The bounds of the embedded broker are kept here too: retained messages per device and in all,
 * messages per device in the ingest at once, and (through MqttBroker) the size of a packet.
 */
@Injectable()
export class BrokerIntakeHooks {
  private readonly logger = new Logger('MqttBroker');
  readonly hooks: BrokerIntake;
  private readonly platformId: string;
  private readonly maxInflight: number;
  private readonly maxRetainedPerDevice: number;
  private readonly maxRetained: number;
  private readonly inflight = new Map<string, Inflight>();
  /** Retained topic → the client id that set it; the broker's own store has no owners. */
  private readonly retainedBy = new Map<string, string>();
  private readonly retainedCount = new Map<string, number>();

  constructor(
    @Inject(IngestBatcher) private readonly batcher: IngestBatcher,
    @Inject(IngestStats) private readonly stats: IngestStats,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.platformId = platformClientId(config);
    this.maxInflight = config.get('MQTT_MAX_INFLIGHT_PER_DEVICE');
    this.maxRetainedPerDevice = config.get('MQTT_MAX_RETAINED_PER_DEVICE');
    this.maxRetained = config.get('MQTT_MAX_RETAINED');
    const authorizePublish: AedesOptions['authorizePublish'] = (client, packet, done) =>
      this.authorizePublish(client, packet, done);
    const configured = config.get('MQTT_MAX_PACKET_BYTES');
    this.hooks = {
      authorizePublish,
      maxPacketBytes: configured > 0 ? configured : 2 * config.get('INGEST_MAX_PAYLOAD_BYTES'),
      packetRefused: () => this.stats.refuse('packet_too_large'),
    };
  }

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (err?: Error | null) => void,
  ): void {
    // No client: a Last Will the broker publishes for a session of another (clustered) broker.
    // The platform's own client publishes desired state only, which is not for the ingest.
    if (!client || client.id === this.platformId) return done(null);
    if (packet.retain) {
      const refusal = this.retain(client.id, packet.topic, packet.payload.length === 0);
      if (refusal) {
        this.stats.refuse(refusal);
        // MQTT 3.1.1 has no negative PUBACK: the connection closes and nothing is acknowledged.
        return done(new Error(`retained message refused (${refusal}) on ${packet.topic}`));
      }
    }
    // Only the device topics are the ingest's; the access hooks decide about anything else.
    // Live messages (things/…/inbox|outbox/…) are the messages feature's (its own subscription).
    if (!packet.topic.startsWith('things/') || isMessageTopic(packet.topic)) return done(null);
    const msg: InboundMessage = {
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      receivedAt: Date.now(),
      // A live message, even with the retain flag: only a replay at subscribe time is "retained".
      retained: false,
    };
    // A Last Will goes out as its connection closes: nobody to acknowledge, but it is ingested
    // after the device's earlier messages, in order.
    const will = isLastWill(client, packet);
    this.admit(client.id, (release) =>
      this.batcher.submit(msg, () => {
        release();
        if (!will) done(null);
      }),
    );
    if (will) done(null);
  }

  /**
   * Runs `take` now if the device has fewer than MQTT_MAX_INFLIGHT_PER_DEVICE messages in the
   * ingest, else once enough of them committed, in arrival order. Meanwhile aedes reads nothing
   * more from that device (its callbacks are outstanding), so the wait itself is the backpressure.
   */
  private admit(clientId: string, take: (release: () => void) => void): void {
    let f = this.inflight.get(clientId);
    if (!f) this.inflight.set(clientId, (f = { count: 0, waiting: [] }));
    const entry = f;
    const release = () => {
      entry.count--;
      const next = entry.waiting.shift();
      if (next) next();
      else if (entry.count === 0 && this.inflight.get(clientId) === entry) this.inflight.delete(clientId);
    };
    const run = () => {
      entry.count++;
      take(release);
    };
    if (entry.count < this.maxInflight) run();
    else {
      this.stats.throttled++;
      entry.waiting.push(run);
    }
  }

  /** Books a retained message; returns why it is refused, if it is. An empty payload clears one. */
  private retain(clientId: string, topic: string, clears: boolean): RefusalReason | undefined {
    const owner = this.retainedBy.get(topic);
    if (clears) {
      if (owner !== undefined) this.forget(topic, owner);
      return undefined;
    }
    // Replacing what this device retained before costs nothing; taking over another's moves it.
    if (owner === clientId) return undefined;
    const mine = this.retainedCount.get(clientId) ?? 0;
    if (mine >= this.maxRetainedPerDevice) return 'retained_per_device';
    if (owner === undefined && this.retainedBy.size >= this.maxRetained) return 'retained_total';
    if (owner !== undefined) this.forget(topic, owner);
    this.retainedBy.set(topic, clientId);
    this.retainedCount.set(clientId, mine + 1);
    if (this.retainedBy.size === this.maxRetained) {
      this.logger.warn(`the embedded broker holds MQTT_MAX_RETAINED (${this.maxRetained}) retained messages`);
    }
    return undefined;
  }

  private forget(topic: string, owner: string): void {
    this.retainedBy.delete(topic);
    const n = (this.retainedCount.get(owner) ?? 1) - 1;
    if (n > 0) this.retainedCount.set(owner, n);
    else this.retainedCount.delete(owner);
  }
}
