import { isJsonObject, parsePointer } from '../twins/model/json-pointer.js';

/** What a device may ask of its twin over `things/{thingId}/ditto`. */
export interface DeviceCommand {
  type: 'modify' | 'merge';
  path: string[];
  value: unknown;
  correlationId?: string;
}

const TOPIC = /^([^/]*)\/([^/]+)\/things\/twin\/commands\/(modify|merge)$/;

/**
 * A Ditto protocol envelope `{topic: "<ns>/<name>/things/twin/commands/modify|merge", path,
 * value, headers?}`. The thing it names must be the one of the MQTT topic, so a device can
 * only change its own twin. What the path and value mean is checked by the twin service.
 */
export function parseDittoCommand(thingId: string, body: unknown): DeviceCommand | { problem: string } {
  if (!isJsonObject(body)) return { problem: 'A Ditto protocol message must be a JSON object.' };
  if (typeof body.topic !== 'string') return { problem: 'The Ditto protocol message has no topic.' };
  const match = TOPIC.exec(body.topic);
  if (!match) {
    return {
      problem: `Topic '${body.topic}' is not a twin modify or merge command (<namespace>/<name>/things/twin/commands/modify|merge).`,
    };
  }
  const [, namespace, name, action] = match;
  if (`${namespace}:${name}` !== thingId) {
    return { problem: `The command is for '${namespace}:${name}', but was published for '${thingId}'.` };
  }
  if (typeof body.path !== 'string' || !body.path.startsWith('/')) {
    return { problem: 'The command needs a path, a JSON pointer such as /features/lamp/properties/on.' };
  }
  if (!('value' in body)) return { problem: 'The command needs a value.' };
  let path: string[];
  try {
    path = parsePointer(body.path);
  } catch {
    return { problem: `The path '${body.path}' is not a valid JSON pointer.` };
  }
  const headers = isJsonObject(body.headers) ? body.headers : {};
  const correlationId = headers['correlation-id'];
  return {
    type: action as DeviceCommand['type'],
    path,
    value: body.value,
    ...(typeof correlationId === 'string' ? { correlationId } : {}),
  };
}
