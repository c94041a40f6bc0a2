import { authContext, type AuthContext } from '../auth/auth-context.js';
import { parseCommandEnvelope, ProtocolError, type ProtocolCommand } from '../protocol/twin-commands.js';
import { isJsonObject } from '../twins/model/json-pointer.js';

/** What a device may ask of its twin over `things/{thingId}/ditto`. */
export interface DeviceCommand {
  type: 'modify' | 'merge';
  path: string[];
  value: unknown;
  correlationId?: string;
  /**
   * Set when the command reaches beyond the thing's features: it is then enforced against the
   * thing's policy under the device's subject `device:<thingId>` (see deviceAuth).
   */
  auth?: AuthContext;
}

/** The authorization subject of a device in policies: `device:<thingId>`. */
export function deviceSubject(thingId: string): string {
  return `device:${thingId}`;
}

/**
 * How a device's command is enforced. A device reports through its features: what it writes
 * there is the platform's to take (it arrives on the device's own topic, which only the device
 * may publish to on the embedded broker), so no policy entry is needed per device — Ditto
 * subjects have no wildcards, and one shared device policy cannot name every device. Anything
 * else (attributes, definition, policyId, the whole thing) is enforced against the thing's policy
 * with the subject `device:<thingId>`: refused unless a policy entry names that device.
 */
export function deviceAuth(
  thingId: string,
  path: readonly string[],
  value: unknown,
): AuthContext | undefined {
  if (path.length > 0 && path[0] === 'features') return undefined;
  // A merge of the thing that only touches features is a features write too.
  if (path.length === 0 && isJsonObject(value) && Object.keys(value).every((k) => k === 'features')) {
    return Object.keys(value).length === 0 ? authContext([deviceSubject(thingId)]) : undefined;
  }
  return authContext([deviceSubject(thingId)]);
}

/**
 * A Ditto protocol envelope `{topic: "<ns>/<name>/things/twin/commands/modify|merge", path,
 * value, headers?}`, read by the one protocol parser (protocol/twin-commands.ts, as on /ws/2).
 * Only modify and merge are a device's to send, and the thing it names must be the one of the
 * MQTT topic, so a device can only change its own twin. What the path and value mean is checked
 * by the twin service.
 */
export function parseDittoCommand(thingId: string, body: unknown): DeviceCommand | { problem: string } {
  let cmd: ProtocolCommand;
  try {
    cmd = parseCommandEnvelope(body);
  } catch (err) {
    return { problem: err instanceof ProtocolError ? err.error.message : String(err) };
  }
  if (cmd.action !== 'modify' && cmd.action !== 'merge') {
    return {
      problem: `Topic '${cmd.topic}' is not a twin modify or merge command (<namespace>/<name>/things/twin/commands/modify|merge).`,
    };
  }
  if (cmd.thingId !== thingId) {
    return { problem: `The command is for '${cmd.thingId}', but was published for '${thingId}'.` };
  }
  if (!isJsonObject(body) || typeof body.path !== 'string' || !body.path.startsWith('/')) {
    return { problem: 'The command needs a path, a JSON pointer such as /features/lamp/properties/on.' };
  }
  const path = cmd.segments;
  // A device's correlation id only when it sent one (header names in any case).
  const correlationId = cmd.headers['correlation-id'] || undefined;
  const type = cmd.action;
  // A modify of the whole thing replaces more than features, whatever the value holds.
  const auth =
    type === 'modify' && path.length === 0
      ? authContext([deviceSubject(thingId)])
      : deviceAuth(thingId, path, cmd.value);
  return {
    type,
    path,
    value: cmd.value,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(auth ? { auth } : {}),
  };
}
