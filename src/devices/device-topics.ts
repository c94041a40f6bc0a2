/**
 * Whether a thing can be a device on MQTT: its id becomes a topic level and the client id, and
 * `+`/`#` there would make `things/<id>/desired` a wildcard filter over other devices' topics.
 */
export function usableOverMqtt(thingId: string): boolean {
  return !/[+#]/.test(thingId);
}

/** Who a client on the embedded broker is, once its CONNECT was accepted. */
export type BrokerIdentity =
  | { kind: 'platform' }
  | { kind: 'anonymous' }
  | { kind: 'device'; thingId: string; prefix: string; desired: string; inbox: string };

export const PLATFORM_IDENTITY: BrokerIdentity = { kind: 'platform' };
export const ANONYMOUS_IDENTITY: BrokerIdentity = { kind: 'anonymous' };

/** What a device may publish under `things/<own id>/`. */
const DEVICE_PUBLISH = new Set(['telemetry', 'ditto', 'status']);

export function deviceIdentity(thingId: string): BrokerIdentity {
  const prefix = `things/${thingId}/`;
  return { kind: 'device', thingId, prefix, desired: `${prefix}desired`, inbox: `${prefix}inbox/` };
}

/** The only topic a device's Last Will may go to. */
export function statusTopic(thingId: string): string {
  return `things/${thingId}/status`;
}

/**
 * A device publishes only `things/<own id>/{telemetry,ditto,status}`; the platform and (with
 * MQTT_ANONYMOUS) anonymous clients anything but the broker's own `$SYS` tree.
 */
export function mayPublish(identity: BrokerIdentity, topic: string): boolean {
  if (identity.kind !== 'device') return !topic.startsWith('$SYS');
  if (!topic.startsWith(identity.prefix)) return false;
  const rest = topic.slice(identity.prefix.length);
  return DEVICE_PUBLISH.has(rest) || ownMailbox(rest, 'outbox');
}

/**
 * A device subscribes only to its own desired state and inbox: no wildcard can reach another
 * device's topics (a `+` or `#` in its thing id is refused at provisioning, usableOverMqtt).
 */
export function maySubscribe(identity: BrokerIdentity, filter: string): boolean {
  if (identity.kind !== 'device') return true;
  return filter === identity.desired || filter.startsWith(identity.inbox) || inOwnMailbox(identity, filter);
}

/** What the broker forwards to a device, whatever its (possibly restored) subscriptions. */
export function mayReceive(identity: BrokerIdentity, topic: string): boolean {
  if (identity.kind !== 'device') return true;
  return topic === identity.desired || topic.startsWith(identity.inbox) || inOwnMailbox(identity, topic);
}

/**
 * Live messages (protocol/messages.ts): a device receives on its own
 * `things/<id>/[features/<f>/]inbox/<subject>` and answers on the `outbox/` twin of that topic.
 */
function inOwnMailbox(identity: BrokerIdentity, topicOrFilter: string): boolean {
  if (identity.kind !== 'device' || !topicOrFilter.startsWith(identity.prefix)) return false;
  return ownMailbox(topicOrFilter.slice(identity.prefix.length), 'inbox');
}

/** `<mailbox>/…` or `features/<one level>/<mailbox>/…` under the device's own prefix. */
function ownMailbox(rest: string, mailbox: 'inbox' | 'outbox'): boolean {
  const parts = rest.split('/');
  if (parts[0] === mailbox) return parts.length >= 2 && parts[1] !== '';
  return (
    parts[0] === 'features' &&
    parts.length >= 4 &&
    parts[1] !== '' &&
    parts[1] !== '#' &&
    parts[2] === mailbox &&
    parts[3] !== ''
  );
}
