import { isObject, mergeDesired, type Desired } from './contract.js';

/**
 * The commands a simulated device answers, as live messages (README ## Messages): the platform
 * publishes a message on `things/{id}/inbox/{subject}` (or `things/{id}/features/{f}/inbox/{subject}`)
 * as `{"correlationId", "subject", "featureId"?, "contentType", "headers", "payload", "timeout"}`,
 * and the device answers on the same topic with `outbox` for `inbox`, as
 * `{"correlationId", "status", "contentType", "payload"}`. Pure: the device supplies a CommandHost.
 *
 *   setSetpoint  payload a number, or {"value"|"setpoint": number}; the feature of a feature
 *                message, else the profile's own (hvac, climate). Applied as a desired setpoint
 *                → 200 {"feature", "setpoint"}; a profile without a setpoint → 400.
 *   reboot       → 202 {"rebooting": true}; the device then drops its connection (the broker
 *                publishes its Last Will "offline") and comes back.
 *   getStatus    → 200 {"thingId", "seq", "uptimeSeconds", "desired"}.
 * Any other subject → 501; a payload that is not the contract's JSON → 400. Errors carry Ditto's
 * error shape {"status", "error", "message"}.
 */

/** The filters a device subscribes to for its commands (its own inbox only). */
export function commandFilters(thingId: string): string[] {
  return [`things/${thingId}/inbox/#`, `things/${thingId}/features/+/inbox/#`];
}

export interface CommandHost {
  readonly thingId: string;
  /** Applies a desired-state patch as if the platform had published it; false when not understood. */
  apply(patch: Desired): boolean;
  status(): { seq: number; uptimeSeconds: number; desired: Desired };
  /** Drops the connection once the answer has gone out. */
  reboot(): void;
  publish(topic: string, payload: string): void;
}

/** Features a setpoint goes to when the message names none, in this order. */
const SETPOINT_FEATURES = ['hvac', 'climate'];

interface Answer {
  status: number;
  payload: unknown;
  after?: () => void;
}

/** Handles `topic` if it is one of the device's command topics; returns whether it was. */
export function handleCommand(host: CommandHost, topic: string, payload: Buffer): boolean {
  const prefix = `things/${host.thingId}/`;
  if (!topic.startsWith(prefix)) return false;
  const rest = topic.slice(prefix.length).split('/');
  let featureId: string | undefined;
  let subject: string;
  if (rest[0] === 'inbox' && rest.length >= 2) subject = rest.slice(1).join('/');
  else if (rest[0] === 'features' && rest[2] === 'inbox' && rest.length >= 4) {
    featureId = rest[1];
    subject = rest.slice(3).join('/');
  } else return false;
  let message: unknown;
  try {
    message = JSON.parse(payload.toString('utf8'));
  } catch {
    message = undefined;
  }
  if (!isObject(message)) return true;
  const correlationId = typeof message.correlationId === 'string' ? message.correlationId : undefined;
  const answer = run(host, subject, featureId, message.payload);
  // Fire and forget (timeout 0) or no correlation id: nobody waits for an answer.
  if (correlationId !== undefined && message.responseRequired !== false) {
    host.publish(
      topic.replace(/\/inbox\//, '/outbox/'),
      JSON.stringify({
        correlationId,
        status: answer.status,
        contentType: 'application/json',
        payload: answer.payload,
      }),
    );
  }
  answer.after?.();
  return true;
}

function run(host: CommandHost, subject: string, featureId: string | undefined, payload: unknown): Answer {
  switch (subject) {
    case 'setSetpoint': {
      const value =
        typeof payload === 'number'
          ? payload
          : isObject(payload)
            ? (payload.value ?? payload.setpoint)
            : undefined;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return error(400, 'simulator:payload.invalid', 'setSetpoint wants a number or {"value": number}.');
      }
      for (const feature of featureId === undefined ? SETPOINT_FEATURES : [featureId]) {
        if (host.apply({ [feature]: { setpoint: value } })) {
          return { status: 200, payload: { feature, setpoint: value } };
        }
      }
      return error(400, 'simulator:command.unsupported', `${host.thingId} has no setpoint to set.`);
    }
    case 'reboot':
      return { status: 202, payload: { rebooting: true }, after: () => host.reboot() };
    case 'getStatus':
      return { status: 200, payload: { thingId: host.thingId, ...host.status() } };
    default:
      return error(
        501,
        'simulator:subject.unknown',
        `${host.thingId} does not understand '${subject.slice(0, 100)}'.`,
      );
  }
}

function error(status: number, code: string, message: string): Answer {
  return { status, payload: { status, error: code, message } };
}

/** The desired state after a command's patch (the device keeps its own copy, as for `desired`). */
export function patched(current: Desired, patch: Desired): Desired {
  return mergeDesired(current, patch);
}
