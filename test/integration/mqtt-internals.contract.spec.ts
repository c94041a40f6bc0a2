import { once } from 'node:events';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Aedes, type AedesOptions, type Client, type PublishPacket } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import {
  assertMqttClientInternals,
  isLastWill,
  limitPacketSize,
  sendPuback,
  takeWithoutAck,
} from '../../src/ingest/mqtt-internals.js';

/**
 * The contract of src/ingest/mqtt-internals.ts: what the ingest relies on in aedes, mqtt-packet
 * and mqtt.js beyond their public API, run against the installed (exactly pinned) versions with
 * a real aedes broker on a TCP port and real mqtt.js clients. A failure here after an upgrade
 * means the adapter must change before the upgrade can land.
 */
let broker: Aedes | undefined;
let server: Server | undefined;
const clients: MqttClient[] = [];
const sockets: Socket[] = [];

async function startBroker(options: AedesOptions, onClient?: (c: Client) => void): Promise<string> {
  const b = await Aedes.createBroker(options);
  broker = b;
  const s = createServer((socket) => {
    const client = b.handle(socket);
    onClient?.(client);
  });
  server = s;
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  return `mqtt://127.0.0.1:${(s.address() as { port: number }).port}`;
}

async function client(url: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 4, ...opts });
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true);
  for (const s of sockets.splice(0)) s.destroy();
  const b = broker;
  const s = server;
  broker = undefined;
  server = undefined;
  if (b) await new Promise<void>((ok) => b.close(() => ok()));
  if (s) await new Promise<void>((ok) => s.close(() => ok()));
});

/** A raw TCP connection that has sent an MQTT 3.1.1 CONNECT and received the CONNACK. */
async function rawConnected(url: string): Promise<Socket> {
  const { port } = new URL(url);
  const socket = tcpConnect(Number(port), '127.0.0.1');
  sockets.push(socket);
  await once(socket, 'connect');
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: 'raw',
      keepalive: 0,
    }),
  );
  const [connack] = (await once(socket, 'data')) as [Buffer];
  expect(connack[0]).toBe(0x20);
  return socket;
}

describe('aedes + mqtt-packet: limitPacketSize', () => {
  it('refuses a PUBLISH from its fixed header alone, before any of its body arrived', async () => {
    const refused: (string | undefined)[] = [];
    const url = await startBroker({}, (c) => limitPacketSize(c, 1024, (cmd) => refused.push(cmd)));
    const socket = await rawConnected(url);
    const closed = once(socket, 'close');
    // PUBLISH QoS 0, remaining length 10 MiB (variable byte integer), and no body at all.
    socket.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x05]));
    await closed;
    expect(refused).toEqual(['publish']);
  });

  it('lets packets up to the limit through', async () => {
    const refused: (string | undefined)[] = [];
    const url = await startBroker({}, (c) => limitPacketSize(c, 1024, (cmd) => refused.push(cmd)));
    const c = await client(url);
    await c.publishAsync('t/x', Buffer.alloc(900, 0x41), { qos: 1 });
    expect(refused).toEqual([]);
  });
});

describe('aedes: the Last Will and the PUBACK', () => {
  it('hands the Last Will to authorizePublish as client.will, and only the will', async () => {
    const seen: { topic: string; will: boolean }[] = [];
    const url = await startBroker({
      authorizePublish: (c: Client | null, packet: PublishPacket, done) => {
        if (c) seen.push({ topic: packet.topic, will: isLastWill(c, packet) });
        done(null);
      },
    });
    const c = await client(url, {
      clientId: 'willing',
      will: { topic: 'w/status', payload: Buffer.from('offline'), qos: 1, retain: false },
    });
    await c.publishAsync('w/telemetry', 'x', { qos: 1 });
    const willSeen = new Promise<void>((ok) => broker!.on('publish', (p) => p.topic === 'w/status' && ok()));
    c.stream.destroy();
    await willSeen;
    expect(seen).toEqual([
      { topic: 'w/telemetry', will: false },
      { topic: 'w/status', will: true },
    ]);
  });

  it('writes a QoS 1 PUBACK only after authorizePublish called back', async () => {
    let calledBack = false;
    const url = await startBroker({
      authorizePublish: (_c, _packet, done) => {
        // Held long enough for a PUBACK sent early to arrive first.
        setTimeout(() => {
          calledBack = true;
          done(null);
        }, 200);
      },
    });
    const c = await client(url);
    await c.publishAsync('t/held', 'x', { qos: 1 });
    expect(calledBack).toBe(true);
  });
});

describe('mqtt.js: takeWithoutAck and sendPuback', () => {
  it('takes a QoS 1 message without acknowledging it; sendPuback acknowledges it later', async () => {
    const acks: number[] = [];
    const url = await startBroker({});
    broker!.on('ack', (packet) => {
      if ('topic' in packet && packet.topic === 'in/1') acks.push(packet.messageId!);
    });
    const taker = await client(url, { clientId: 'taker', clean: false });
    assertMqttClientInternals(taker);
    const taken: mqtt.IPublishPacket[] = [];
    const arrived = new Promise<void>((ok) =>
      takeWithoutAck(taker, (p) => {
        taken.push(p);
        ok();
      }),
    );
    await taker.subscribeAsync('in/#', { qos: 1 });
    const sender = await client(url);
    await sender.publishAsync('in/1', 'reading', { qos: 1 });
    await arrived;
    expect(taken[0].payload.toString()).toBe('reading');
    // The broker reads the taker's packets in order: had mqtt.js sent a PUBACK, it would be
    // processed before this PUBLISH is acknowledged. The taker is still connected, too.
    await taker.publishAsync('other', 'x', { qos: 1 });
    expect(acks).toEqual([]);
    const acked = new Promise<void>((ok) => broker!.on('ack', () => ok()));
    sendPuback(taker, taken[0].messageId!);
    await acked;
    expect(acks).toEqual([taken[0].messageId]);
  });
});
