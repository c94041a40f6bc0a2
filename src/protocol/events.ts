/**
 * Ditto protocol event topics, built where events are rendered (realtime) and parsed where
 * Ditto's events are read (the sync): `<ns>/<name>/things/twin/events/<action>` and, for
 * policies, `<ns>/<name>/policies/events/<action>`.
 */
export const EVENT_ACTIONS = ['created', 'modified', 'merged', 'deleted'] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

export function eventTopic(entityId: string, entity: 'thing' | 'policy', action: EventAction): string {
  const colon = entityId.indexOf(':');
  const group = entity === 'policy' ? 'policies' : 'things/twin';
  return `${entityId.slice(0, colon)}/${entityId.slice(colon + 1)}/${group}/events/${action}`;
}

/** The thing and action of a thing event topic, or null for any other topic. */
export function parseThingEventTopic(topic: string): { thingId: string; action: EventAction } | null {
  const parts = topic.split('/');
  if (parts.length !== 6 || parts[2] !== 'things' || parts[3] !== 'twin' || parts[4] !== 'events')
    return null;
  const [namespace, name, , , , action] = parts;
  if (namespace === '' || name === '' || !(EVENT_ACTIONS as readonly string[]).includes(action)) return null;
  return { thingId: `${namespace}:${name}`, action: action as EventAction };
}
