import { randomUUID } from 'node:crypto';
import { DomainError } from '../common/domain-error.js';
import { parseTimestamp } from '../twins/history/history-request.js';
import type { StreamBounds } from '../twins/history/thing-history.service.js';
import { isJsonObject, type JsonObject } from '../twins/model/json-pointer.js';
import type { RqlNode } from '../twins/search/index.js';
import { parseEventFilter } from './event-filter.js';

export const STREAMING_ACTIONS = ['subscribeForPersistedEvents', 'request', 'cancel'] as const;
export type StreamingAction = (typeof STREAMING_ACTIONS)[number];

export interface StreamingCommand {
  topic: string;
  namespace: string;
  name: string;
  action: StreamingAction;
  value: unknown;
  /** As sent, or made up as Ditto's gateway does: every frame of the protocol carries one. */
  correlationId: string;
}

/**
 * The streaming command a frame holds, or undefined when it is no streaming message (any other
 * topic is left to the twin command parser).
 */
export function parseStreamingCommand(envelope: unknown): StreamingCommand | undefined {
  if (!isJsonObject(envelope) || typeof envelope.topic !== 'string') return undefined;
  const parts = envelope.topic.split('/');
  if (parts.length !== 6 || parts[2] !== 'things' || parts[4] !== 'streaming') return undefined;
  const headers = isJsonObject(envelope.headers) ? envelope.headers : {};
  const cid = Object.entries(headers).find(([k]) => k.toLowerCase() === 'correlation-id')?.[1];
  return {
    topic: envelope.topic,
    namespace: parts[0],
    name: parts[1],
    action: parts[5] as StreamingAction,
    value: envelope.value,
    correlationId: typeof cid === 'string' && cid !== '' ? cid : randomUUID(),
  };
}

export interface PersistedOptions {
  bounds: StreamBounds;
  filter?: RqlNode;
}

/** The subscribe command's value (Ditto's schema); without a `to`, up to the current revision. */
export function parsePersistedOptions(raw: unknown): PersistedOptions {
  if (raw !== undefined && !isJsonObject(raw)) throw protocolError("The 'value' must be a JSON object.");
  const value = raw ?? {};
  const bounds: StreamBounds = {};
  const revision = (k: string): number | undefined => {
    const v = value[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw protocolError(`'${k}' must be an integer.`);
    return v;
  };
  const timestamp = (k: string): string | undefined => {
    const v = value[k];
    if (v === undefined) return undefined;
    try {
      if (typeof v !== 'string') throw new Error();
      return parseTimestamp(v, k);
    } catch {
      throw protocolError(`'${k}' must be an ISO-8601 timestamp.`);
    }
  };
  const fromRevision = revision('fromHistoricalRevision');
  const toRevision = revision('toHistoricalRevision');
  const fromTimestamp = timestamp('fromHistoricalTimestamp');
  const toTimestamp = timestamp('toHistoricalTimestamp');
  if (fromRevision !== undefined && fromTimestamp !== undefined)
    throw protocolError('Give fromHistoricalRevision or fromHistoricalTimestamp, not both.');
  if (toRevision !== undefined && toTimestamp !== undefined)
    throw protocolError('Give toHistoricalRevision or toHistoricalTimestamp, not both.');
  if (fromTimestamp !== undefined) bounds.fromTimestamp = fromTimestamp;
  // No start: the complete history the journal still holds.
  else bounds.fromRevision = fromRevision ?? 0;
  if (toTimestamp !== undefined) bounds.toTimestamp = toTimestamp;
  // No end: up to the current revision (0), then complete.
  else bounds.toRevision = toRevision ?? 0;
  const options: PersistedOptions = { bounds };
  if (value.filter !== undefined) {
    if (typeof value.filter !== 'string') throw protocolError("'filter' must be an RQL string.");
    options.filter = parseEventFilter(value.filter);
  }
  return options;
}

/** The frames of one subscription, in Ditto's envelopes. */
export class Envelopes {
  constructor(
    /** `<ns>/<name>/things/twin/streaming` */
    private readonly prefix: string,
    private readonly correlationId: string,
  ) {}

  event(action: 'created' | 'complete', value: JsonObject): string {
    return JSON.stringify({ topic: `${this.prefix}/${action}`, headers: this.headers(), path: '/', value });
  }

  /** The item is the event's Ditto Protocol envelope, already serialised once for all. */
  next(subscriptionId: string, item: string): string {
    const head = JSON.stringify({ topic: `${this.prefix}/next`, headers: this.headers(), path: '/' });
    return `${head.slice(0, -1)},"value":{"subscriptionId":${JSON.stringify(subscriptionId)},"item":${item}}}`;
  }

  failed(subscriptionId: string, error: DomainError): string {
    return JSON.stringify({
      topic: `${this.prefix}/failed`,
      headers: this.headers(),
      path: '/',
      value: { subscriptionId, error: error.toJSON() },
    });
  }

  /** A message that is no streaming command at all: Ditto's error envelope. */
  error(error: DomainError): string {
    const entity = this.prefix.split('/').slice(0, 2).join('/');
    return JSON.stringify({
      topic: `${entity}/things/twin/errors`,
      headers: this.headers(),
      path: '/',
      value: error.toJSON(),
      status: error.status,
    });
  }

  private headers(): JsonObject {
    return { 'content-type': 'application/json', 'correlation-id': this.correlationId };
  }
}

export function protocolError(message: string): DomainError {
  return new DomainError(
    400,
    'streaming.subscription.protocol.error',
    message,
    'See the streaming subscription protocol: subscribeForPersistedEvents, request, cancel.',
  );
}

export function notFound(id: string): DomainError {
  return new DomainError(
    404,
    'streaming.subscription.not.found',
    `No streaming subscription with ID '${id.slice(0, 64)}' exists.`,
    'Use the subscriptionId of a created event; a completed, failed or cancelled subscription is gone.',
  );
}

export function unknownTopic(topic: string): DomainError {
  return new DomainError(
    400,
    'things.protocol.adapter:unknown.topicpath',
    `The topic path '${topic.slice(0, 200)}' is not supported.`,
    'Supported: <namespace>/<name>/things/twin/streaming/{subscribeForPersistedEvents|request|cancel}.',
  );
}
