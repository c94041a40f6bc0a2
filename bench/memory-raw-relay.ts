import mqtt from 'mqtt';
import { WebSocketServer } from 'ws';

/**
 * The baseline of `npm run bench:memory`, run as a child process so its RSS is its own: a bare
 * mqtt.js subscriber (QoS 1, on the broker the devices publish to) and a bare `ws` server that
 * relays every reading to every connected client as one Ditto-shaped event. No twins, no
 * database, no policies: what holding the same connections and moving the same messages costs
 * Node itself. Argument: the broker's URL. Sends {port} once it listens.
 */
const broker = process.argv[2];
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
await new Promise((ok) => wss.once('listening', ok));
let revision = 0;
const subscriber = await mqtt.connectAsync(broker, {
  clientId: `bench-relay-${process.pid}`,
  protocolVersion: 5,
  properties: { receiveMaximum: 65_535 },
});
subscriber.on('message', (topic, payload) => {
  const thingId = topic.split('/')[1] ?? '';
  const reading = JSON.parse(payload.toString()) as { features?: Record<string, unknown> };
  const [namespace, name] = thingId.split(':');
  const event = JSON.stringify({
    topic: `${namespace}/${name}/things/twin/events/merged`,
    headers: { 'content-type': 'application/merge-patch+json', 'event-id': String(++revision) },
    path: '/features',
    value: reading.features ?? {},
    revision,
    timestamp: new Date().toISOString(),
  });
  for (const client of wss.clients) client.send(event);
});
await subscriber.subscribeAsync('things/+/telemetry', { qos: 1 });
process.once('SIGTERM', () => {
  void subscriber.endAsync().then(() => wss.close(() => process.exit(0)));
});
process.send?.({ port: (wss.address() as { port: number }).port });
