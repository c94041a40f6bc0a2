import type { Client, PublishPacket } from 'aedes';
import type { IPublishPacket, MqttClient } from 'mqtt';

/**
 * The one place where the ingest relies on what aedes, mqtt-packet and mqtt.js do not promise
 * publicly. Each use is pinned to an exact version in package.json, and
 * test/integration/mqtt-internals.contract.spec.ts fails when an upgrade changes any of them:
 *
 * - aedes 1.2 / mqtt-packet 9: each aedes client parses with a mqtt-packet `Parser` kept in
 *   `client._parser`, which calls its `_parseLength` state once the fixed header's remaining
 *   length is read, before it buffers the body (limitPacketSize);
 * - aedes 1.2: the Last Will is handed to `authorizePublish` as the very object `client.will`
 *   (isLastWill), and a QoS 1 PUBACK is written only after `authorizePublish` called back
 *   (broker-intake.ts acknowledges after commit through that);
 * - mqtt.js 5: `handleMessage` given an error in its callback sends no PUBACK, and the private
 *   `_sendPacket` sends one later (takeWithoutAck, sendPuback).
 */

/** The members of mqtt-packet's parser (aedes' `client._parser`) used to bound packet sizes. */
interface PacketParser {
  packet: { cmd?: string; length: number };
  _parseLength(this: PacketParser): boolean;
  _emitError(err: Error): void;
}

/**
 * Aedes has no maximum packet size and mqtt-packet's parser buffers a whole packet before it
 * emits it, so a 50 MiB PUBLISH would sit in memory. The parser reads the fixed header's
 * remaining length before the body: that is where a larger packet is refused, its connection
 * closed (a parser error closes the client) with at most one socket read of it buffered. The
 * parser is a private member of the aedes client, so its absence fails loudly, not silently.
 */
export function limitPacketSize(
  client: Client,
  maxBytes: number,
  refused?: (cmd: string | undefined) => void,
): void {
  const parser = (client as unknown as { _parser?: PacketParser })._parser;
  if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function') {
    throw new Error('aedes no longer exposes its packet parser: MQTT_MAX_PACKET_BYTES cannot be enforced');
  }
  const parseLength = parser._parseLength.bind(parser);
  parser._parseLength = function (this: PacketParser): boolean {
    const complete = parseLength();
    if (complete && this.packet.length > maxBytes) {
      refused?.(this.packet.cmd);
      this._emitError(
        new Error(`a packet of ${this.packet.length} bytes exceeds MQTT_MAX_PACKET_BYTES (${maxBytes})`),
      );
    }
    return complete;
  };
}

/** Whether aedes is publishing the client's Last Will (its connection closed without DISCONNECT). */
export function isLastWill(client: Client, packet: PublishPacket): boolean {
  return packet === (client as Client & { will?: unknown }).will;
}

/**
 * Takes every PUBLISH the client receives without mqtt.js acknowledging it: the PUBACK is sent
 * with sendPuback once the message is safe. mqtt.js documents `handleMessage` as overridable;
 * that an error in its callback suppresses the PUBACK (and nothing else) is its code's behaviour.
 */
export function takeWithoutAck(client: MqttClient, take: (packet: IPublishPacket) => void): void {
  client.handleMessage = (packet, callback) => {
    take(packet);
    callback(ACK_LATER);
  };
}

/** Passed to mqtt.js's handleMessage callback so it does not send the PUBACK itself. */
const ACK_LATER = new Error('acknowledged after the batch commits');

/** mqtt.js has no public call for a manual PUBACK; `_sendPacket` is what it uses itself. */
interface PacketWriter {
  _sendPacket(packet: { cmd: 'puback'; messageId: number; reasonCode: number }): void;
}

export function sendPuback(client: MqttClient, messageId: number): void {
  (client as unknown as PacketWriter)._sendPacket({ cmd: 'puback', messageId, reasonCode: 0 });
}

/** Fails at boot, not at the first message, when mqtt.js no longer has what sendPuback uses. */
export function assertMqttClientInternals(client: MqttClient): void {
  if (typeof (client as unknown as Partial<PacketWriter>)._sendPacket !== 'function') {
    throw new Error('mqtt.js no longer has _sendPacket: the ingest cannot acknowledge after commit');
  }
}
