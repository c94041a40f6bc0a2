import { randomUUID } from 'node:crypto';
import { DomainError } from '../common/domain-error.js';
import { Errors } from '../common/errors.js';
import { unstorableJson } from '../common/text.js';
import { isJsonObject, parsePointer } from '../twins/model/json-pointer.js';
import { lowerCaseHeaders } from './headers.js';
import { isMessageEnvelopeTopic } from './messages.js';

/**
 * The Ditto Protocol of `/ws/2` frames: parsing twin command envelopes (live messages are told
 * apart here and read by ./messages.ts), writing responses and error envelopes. See
 * https://eclipse.dev/ditto/protocol-specification.html.
 */

export const COMMAND_ACTIONS = ['create', 'retrieve', 'modify', 'merge', 'delete'] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

export interface ProtocolCommand {
  topic: string;
  thingId: string;
  action: CommandAction;
  /** The path as sent ('/' when absent), echoed in the response. */
  path: string;
  segments: string[];
  value: unknown;
  hasValue: boolean;
  /** Header names lower-cased: Ditto's header names are case-insensitive. */
  headers: Record<string, string>;
  correlationId: string;
  responseRequired: boolean;
  fields?: string;
}

/** A frame that could not become a command, with what is known to address the error. */
export class ProtocolError extends Error {
  constructor(
    readonly error: DomainError,
    /** `<ns>/<name>` of the addressed thing, or `_/_`. */
    readonly entity: string,
    readonly correlationId: string | undefined,
  ) {
    super(error.message);
  }
}

/** A `/ws/2` frame: a twin command, or a live message (its envelope, read by protocol/messages). */
export type ProtocolFrame =
  | { kind: 'command'; command: ProtocolCommand }
  | { kind: 'message'; envelope: Record<string, unknown> & { topic: string } };

/** Parses a frame once and tells twin commands from live messages. Throws ProtocolError. */
export function parseFrame(frame: string): ProtocolFrame {
  const envelope = parseEnvelope(frame);
  if (isMessageEnvelopeTopic(envelope.topic)) return { kind: 'message', envelope };
  return { kind: 'command', command: commandOf(envelope) };
}

export function parseCommand(frame: string): ProtocolCommand {
  return commandOf(parseEnvelope(frame));
}

/** A twin command from an already parsed envelope (a device's `things/{id}/ditto` payload). */
export function parseCommandEnvelope(envelope: unknown): ProtocolCommand {
  if (!isJsonObject(envelope) || typeof envelope.topic !== 'string') {
    throw new ProtocolError(
      Errors.jsonInvalid("A Ditto Protocol message is a JSON object with 'topic', 'headers' and 'path'."),
      '_/_',
      undefined,
    );
  }
  return commandOf(envelope as Record<string, unknown> & { topic: string });
}

function parseEnvelope(frame: string): Record<string, unknown> & { topic: string } {
  let envelope: unknown;
  try {
    envelope = JSON.parse(frame);
  } catch {
    throw new ProtocolError(
      Errors.jsonInvalid('The message is neither a control message nor valid JSON.'),
      '_/_',
      undefined,
    );
  }
  if (!isJsonObject(envelope) || typeof envelope.topic !== 'string') {
    throw new ProtocolError(
      Errors.jsonInvalid("A Ditto Protocol message is a JSON object with 'topic', 'headers' and 'path'."),
      '_/_',
      undefined,
    );
  }
  return envelope as Record<string, unknown> & { topic: string };
}

function commandOf(envelope: Record<string, unknown> & { topic: string }): ProtocolCommand {
  const headers = lowerCaseHeaders(envelope.headers);
  const correlationId = headers['correlation-id'] || randomUUID();
  const topic = envelope.topic;
  const parts = topic.split('/');
  const entity = parts.length >= 2 ? `${parts[0]}/${parts[1]}` : '_/_';
  const fail = (error: DomainError): never => {
    throw new ProtocolError(error, entity, correlationId);
  };
  const [namespace, name, group, channel, criterion, action] = parts;
  if (parts.length !== 6 || group !== 'things' || criterion !== 'commands' || !isAction(action)) {
    fail(unknownTopic(topic));
  }
  if (channel !== 'twin') fail(liveUnsupported(topic));
  const path = typeof envelope.path === 'string' && envelope.path !== '' ? envelope.path : '/';
  let segments: string[] = [];
  try {
    segments = parsePointer(path);
  } catch (err) {
    fail(err instanceof DomainError ? err : Errors.pointerInvalid(path));
  }
  if (action === 'create' && segments.length > 0) fail(unknownTopic(topic, path));
  const hasValue = Object.prototype.hasOwnProperty.call(envelope, 'value');
  if (!hasValue && (action === 'modify' || action === 'merge')) {
    fail(Errors.jsonInvalid(`The '${action}' command has no 'value'.`));
  }
  const unstorable = hasValue ? unstorableJson(envelope.value) : undefined;
  if (unstorable !== undefined) fail(Errors.jsonInvalid(`The value contains ${unstorable}.`));
  return {
    topic,
    thingId: `${namespace}:${name}`,
    action: action as CommandAction,
    path,
    segments,
    value: envelope.value,
    hasValue,
    headers,
    correlationId,
    responseRequired: headers['response-required'] !== 'false',
    fields: typeof envelope.fields === 'string' ? envelope.fields : undefined,
  };
}

export function responseEnvelope(cmd: ProtocolCommand, status: number, value?: unknown): string {
  const headers: Record<string, unknown> = {
    'correlation-id': cmd.correlationId,
    'response-required': false,
  };
  if (value !== undefined) headers['content-type'] = 'application/json';
  const envelope: Record<string, unknown> = { topic: cmd.topic, headers, path: cmd.path };
  if (value !== undefined) envelope.value = value;
  envelope.status = status;
  return JSON.stringify(envelope);
}

/** `<entity>/things/<channel>/errors` with the error JSON as value and its status. */
export function errorEnvelope(
  entity: string,
  correlationId: string | undefined,
  error: DomainError,
  channel: 'twin' | 'live' = 'twin',
): string {
  const headers: Record<string, unknown> = { 'content-type': 'application/json' };
  // What REST sends as response headers (a 429's Retry-After), as Ditto headers of the envelope.
  for (const [k, v] of Object.entries(error.headers)) headers[k.toLowerCase()] = v;
  // Ditto's protocol requires a correlation-id on every message; as Ditto's gateway does, one the
  // client did not send (a refused control message, a frame that is not JSON) is made up.
  headers['correlation-id'] = correlationId ?? randomUUID();
  return JSON.stringify({
    topic: `${entity}/things/${channel}/errors`,
    headers,
    path: '/',
    value: error.toJSON(),
    status: error.status,
  });
}

function isAction(action: string | undefined): action is CommandAction {
  return (COMMAND_ACTIONS as readonly (string | undefined)[]).includes(action);
}

function unknownTopic(topic: string, path?: string): DomainError {
  return new DomainError(
    400,
    'things.protocol.adapter:unknown.topicpath',
    path === undefined
      ? `The topic path '${topic}' is not supported.`
      : `The topic '${topic}' is not supported in combination with the path '${path}'`,
    'Check if the topic path is correct. Supported: <namespace>/<name>/things/twin/commands/{create|retrieve|modify|merge|delete}.',
  );
}

function liveUnsupported(topic: string): DomainError {
  return new DomainError(
    501,
    'things.protocol.adapter:channel.unsupported',
    `Live commands ('${topic}') are not supported: devices are not asked for their state by command.`,
    'Use the twin channel (<namespace>/<name>/things/twin/commands/...) or live messages (<namespace>/<name>/things/live/messages/<subject>).',
  );
}

/** Ditto's answer when a client sends faster than its commands are processed. */
export function tooManyRequests(thingId: string): DomainError {
  return new DomainError(
    429,
    'things:thing.toomanymodifyingrequests',
    `Too many modifying requests are already outstanding to the Thing with ID '${thingId}'.`,
    'Throttle your modifying requests to the Thing or re-structure your Thing in multiple Things if you really need so many concurrent modifications.',
  );
}
