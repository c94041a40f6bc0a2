/**
 * The MQTT topics of the device contract (README ## Devices over MQTT), built and parsed in one
 * place: the ingest parses what devices publish, the desired-state publisher builds what it
 * publishes. Live message topics are ./messages.ts'.
 */
export const DEVICE_CHANNELS = ['telemetry', 'ditto', 'status', 'desired'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];

export function deviceTopic(thingId: string, channel: DeviceChannel): string {
  return `things/${thingId}/${channel}`;
}

/** `things/{thingId}/{channel}`, or undefined for any other topic. */
export function parseDeviceTopic(topic: string): { thingId: string; channel: DeviceChannel } | undefined {
  if (!topic.startsWith('things/')) return undefined;
  const slash = topic.indexOf('/', 7);
  if (slash <= 7) return undefined;
  const channel = topic.slice(slash + 1);
  if (!(DEVICE_CHANNELS as readonly string[]).includes(channel)) return undefined;
  return { thingId: topic.slice(7, slash), channel: channel as DeviceChannel };
}
