import mqtt from 'mqtt';

/**
 * The baseline of `npm run bench:ingest`: a bare mqtt.js subscriber that only counts, at QoS 1,
 * in a process of its own as the platform is. Reports the newest seq per device every 25 ms.
 * Arguments: the broker's URL (with the user in it where the broker wants one), and the filter
 * (on a secured broker the platform's user may only subscribe its shared subscription).
 */
const url = process.argv[2];
const filter = process.argv[3] ?? 'things/+/telemetry';
const newest: Record<string, number> = {};
let count = 0;
const client = await mqtt.connectAsync(url, {
  clientId: `bench-raw-${process.pid}`,
  protocolVersion: 5,
  properties: { receiveMaximum: 65_535 },
});
client.on('message', (topic, payload) => {
  if (!topic.endsWith('/telemetry')) return;
  count++;
  const seq = (JSON.parse(payload.toString()) as { seq: number }).seq;
  if (!(seq <= newest[topic])) newest[topic] = seq;
});
await client.subscribeAsync(filter, { qos: 1 });
process.send?.({ port: 0 });
setInterval(() => process.send?.({ count, newest }), 25);
