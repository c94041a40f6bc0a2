import { isJsonObject } from '../twins/model/json-pointer.js';
import { lowerCaseHeaders } from './headers.js';

/**
 * The wire formats of Ditto's live messages, as pure functions: the MQTT topics and JSON payloads
 * devices see (README ## Messages), the Ditto protocol envelopes of `/ws/2`, and the resource
 * paths policies grant (`message:/inbox/messages/<subject>`).
 *
 * MQTT topics (a subject may have several levels, as in Ditto):
 *   things/{thingId}/inbox/{subject}                      to the thing        (platform → device)
 *   things/{thingId}/features/{featureId}/inbox/{subject} to one of its features
 *   things/{thingId}/outbox/{subject}                     from the thing      (device → platform)
 *   things/{thingId}/features/{featureId}/outbox/{subject}
 * A feature id has no '/', so the two shapes cannot be confused whatever the subject holds.
 */

export type Mailbox = 'inbox' | 'outbox';

export interface MessageAddress {
  thingId: string;
  featureId?: string;
  mailbox: Mailbox;
  /** As sent; its levels are separated by '/'. */
  subject: string;
}

/** Subjects longer than this are refused (Ditto bounds them too). */
export const MAX_SUBJECT_LENGTH = 256;
/** Headers forwarded with a message: at most this many, each name and value bounded. */
const MAX_HEADERS = 64;
const MAX_HEADER_CHARS = 4096;

/** Why `subject` cannot be a message subject, or undefined when it can. */
export function subjectProblem(subject: string): string | undefined {
  if (subject.length === 0) return 'The message subject is empty.';
  if (subject.length > MAX_SUBJECT_LENGTH) {
    return `The message subject is longer than ${MAX_SUBJECT_LENGTH} characters.`;
  }
  // MQTT wildcards and NUL cannot be part of a topic that is published to.
  if (/[+#\u0000]/.test(subject)) return "The message subject must not contain '+', '#' or NUL.";
  if (subject.split('/').some((s) => s === '')) return 'The message subject has an empty level.';
  return undefined;
}

/** Why `featureId` cannot address a feature's mailbox, or undefined when it can. */
export function featureIdProblem(featureId: string): string | undefined {
  if (featureId.length === 0 || featureId.length > MAX_SUBJECT_LENGTH) {
    return `A feature id has 1 to ${MAX_SUBJECT_LENGTH} characters.`;
  }
  if (/[/+#\u0000]/.test(featureId)) return "A feature id must not contain '/', '+', '#' or NUL.";
  return undefined;
}

export function messageTopic(a: MessageAddress): string {
  const feature = a.featureId === undefined ? '' : `features/${a.featureId}/`;
  return `things/${a.thingId}/${feature}${a.mailbox}/${a.subject}`;
}

/** The address of a message topic, or undefined when the topic is not one. */
export function parseMessageTopic(topic: string): MessageAddress | undefined {
  if (!topic.startsWith('things/')) return undefined;
  const parts = topic.split('/');
  if (parts.length < 4) return undefined;
  const thingId = parts[1];
  let at = 2;
  let featureId: string | undefined;
  if (parts[2] === 'features') {
    if (parts.length < 6) return undefined;
    featureId = parts[3];
    at = 4;
  }
  const mailbox = parts[at];
  if (mailbox !== 'inbox' && mailbox !== 'outbox') return undefined;
  const subject = parts.slice(at + 1).join('/');
  if (thingId === '' || subjectProblem(subject) !== undefined) return undefined;
  if (featureId !== undefined && featureIdProblem(featureId) !== undefined) return undefined;
  return { thingId, ...(featureId === undefined ? {} : { featureId }), mailbox, subject };
}

/** Whether an MQTT topic belongs to the messages (and not to the ingest's device contract). */
export function isMessageTopic(topic: string): boolean {
  if (!topic.startsWith('things/')) return false;
  const parts = topic.split('/');
  const at = parts[2] === 'features' ? 4 : 2;
  return parts.length > at + 1 && (parts[at] === 'inbox' || parts[at] === 'outbox');
}

/** The filters a replica subscribes to for every thing's messages. */
export const MESSAGE_TOPIC_FILTERS = [
  'things/+/inbox/#',
  'things/+/outbox/#',
  'things/+/features/+/inbox/#',
  'things/+/features/+/outbox/#',
] as const;

/** The path of the `message:` resource policies grant for the address (Ditto's). */
export function messageResource(a: Omit<MessageAddress, 'thingId'>): string[] {
  const feature = a.featureId === undefined ? [] : ['features', a.featureId];
  return [...feature, a.mailbox, 'messages', ...a.subject.split('/')];
}

/** The Ditto protocol path: `/inbox/messages/<subject>`, `/features/<id>/outbox/messages/<subject>`. */
export function messagePath(a: Omit<MessageAddress, 'thingId'>): string {
  return '/' + messageResource(a).join('/');
}

// ---------------------------------------------------------------------------------------------
// Payloads

export type MessageBody =
  | { kind: 'none'; contentType?: string }
  | { kind: 'json'; contentType: string; value: unknown }
  | { kind: 'text'; contentType: string; value: string }
  | { kind: 'binary'; contentType: string; value: Buffer };

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const base = contentType?.split(';')[0].trim().toLowerCase();
  return base ? base : undefined;
}

export function isJsonMediaType(type: string | undefined): boolean {
  return type === 'application/json' || (type !== undefined && /^application\/[\w.-]+\+json$/.test(type));
}

function isTextMediaType(type: string | undefined): boolean {
  return type !== undefined && (type.startsWith('text/') || type === 'application/xml');
}

/** A body received as bytes (HTTP): JSON and text types must be valid; anything else is binary. */
export function bodyFromBytes(
  contentType: string | undefined,
  bytes: Buffer,
): MessageBody | { problem: string } {
  if (bytes.length === 0) return { kind: 'none', ...(contentType ? { contentType } : {}) };
  const type = mediaTypeOf(contentType);
  const ct = contentType ?? 'application/octet-stream';
  if (!isJsonMediaType(type) && !isTextMediaType(type))
    return { kind: 'binary', contentType: ct, value: bytes };
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { problem: `The payload is declared as '${type}' but is not UTF-8 text.` };
  }
  if (!isJsonMediaType(type)) return { kind: 'text', contentType: ct, value: text };
  try {
    return { kind: 'json', contentType: ct, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { problem: `The payload is declared as '${type}' but is not JSON: ${(err as Error).message}` };
  }
}

export function bodyToBytes(body: MessageBody): Buffer {
  switch (body.kind) {
    case 'none':
      return Buffer.alloc(0);
    case 'json':
      return Buffer.from(JSON.stringify(body.value));
    case 'text':
      return Buffer.from(body.value);
    case 'binary':
      return body.value;
  }
}

/** A body as Ditto's protocol carries it in `value` (binary as base64, as Ditto does). */
export function bodyToValue(body: MessageBody): unknown {
  switch (body.kind) {
    case 'none':
      return undefined;
    case 'binary':
      return body.value.toString('base64');
    case 'json':
    case 'text':
      return body.value;
  }
}

/**
 * A body from a JSON carrier (a Ditto envelope's `value`, an MQTT payload's `payload`): a JSON
 * type (or none given, for a non-string) carries the value; a text type a string; any other
 * type a base64 string. `base64` forces the latter (the MQTT payload's `payloadEncoding`).
 */
export function bodyFromValue(
  contentType: string | undefined,
  value: unknown,
  base64 = false,
): MessageBody | { problem: string } {
  if (value === undefined) return { kind: 'none', ...(contentType ? { contentType } : {}) };
  const type = mediaTypeOf(contentType);
  if (base64 || (type !== undefined && !isJsonMediaType(type) && !isTextMediaType(type))) {
    if (typeof value !== 'string') return { problem: 'A binary payload is a base64 string.' };
    return {
      kind: 'binary',
      contentType: contentType ?? 'application/octet-stream',
      value: Buffer.from(value, 'base64'),
    };
  }
  if (isTextMediaType(type) || (type === undefined && typeof value === 'string')) {
    if (typeof value !== 'string') return { problem: `A '${type}' payload is a string.` };
    return { kind: 'text', contentType: contentType ?? 'text/plain', value };
  }
  return { kind: 'json', contentType: contentType ?? 'application/json', value };
}

export function bodySize(body: MessageBody): number {
  return body.kind === 'none' ? 0 : bodyToBytes(body).length;
}

// ---------------------------------------------------------------------------------------------
// MQTT payloads (README ## Messages)

/** What the platform publishes on a message topic (and a device publishes to send one itself). */
export interface WireMessage {
  correlationId?: string;
  thingId: string;
  featureId?: string;
  subject: string;
  mailbox: Mailbox;
  contentType?: string;
  headers: Record<string, string>;
  body: MessageBody;
  /** Seconds the sender waits for an answer; 0 when it waits for none. */
  timeout?: number;
  /** Set on an answer: the status the sender gets. */
  status?: number;
}

export function encodeWireMessage(m: WireMessage): string {
  const out: Record<string, unknown> = {};
  if (m.correlationId !== undefined) out.correlationId = m.correlationId;
  out.thingId = m.thingId;
  if (m.featureId !== undefined) out.featureId = m.featureId;
  out.subject = m.subject;
  out.direction = m.mailbox;
  if (m.status !== undefined) out.status = m.status;
  const contentType = m.body.kind === 'none' ? m.body.contentType : m.body.contentType;
  if (contentType !== undefined) out.contentType = contentType;
  out.headers = m.headers;
  if (m.timeout !== undefined) {
    out.timeout = m.timeout;
    out.responseRequired = m.timeout > 0;
  }
  if (m.body.kind !== 'none') {
    out.payload = bodyToValue(m.body);
    if (m.body.kind === 'binary') out.payloadEncoding = 'base64';
  }
  return JSON.stringify(out);
}

/**
 * An MQTT message on a message topic, read back. The topic decides thing, feature, mailbox and
 * subject (a device can only publish on its own topics); the payload carries the rest. A payload
 * that is not a JSON object is taken as the raw payload of a device's message (content type
 * from its bytes: JSON, else text, else binary).
 */
export function decodeWireMessage(topic: string, payload: Buffer): WireMessage | { problem: string } {
  const address = parseMessageTopic(topic);
  if (!address) return { problem: `'${topic.slice(0, 200)}' is not a message topic.` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(UTF8.decode(payload));
  } catch {
    parsed = undefined;
  }
  if (!isJsonObject(parsed)) {
    const body = bodyFromBytes(guessType(payload), payload);
    if ('problem' in body) return body;
    return { ...address, headers: {}, body };
  }
  const contentType = typeof parsed.contentType === 'string' ? parsed.contentType : undefined;
  const body = bodyFromValue(contentType, parsed.payload, parsed.payloadEncoding === 'base64');
  if ('problem' in body) return body;
  const status = parsed.status;
  if (
    status !== undefined &&
    !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599)
  ) {
    return { problem: "'status' must be an HTTP status code (100 to 599)." };
  }
  const correlationId =
    typeof parsed.correlationId === 'string' && parsed.correlationId !== ''
      ? parsed.correlationId
      : undefined;
  return {
    ...address,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(contentType === undefined ? {} : { contentType }),
    headers: boundedHeaders(lowerCaseHeaders(parsed.headers)),
    body,
    ...(typeof parsed.timeout === 'number' ? { timeout: parsed.timeout } : {}),
    ...(status === undefined ? {} : { status: status as number }),
  };
}

function guessType(payload: Buffer): string {
  try {
    const text = UTF8.decode(payload);
    try {
      JSON.parse(text);
      return 'application/json';
    } catch {
      return 'text/plain';
    }
  } catch {
    return 'application/octet-stream';
  }
}

/** At most MAX_HEADERS headers, each bounded; the rest is dropped. */
export function boundedHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(headers)) {
    if (n >= MAX_HEADERS) break;
    if (k.length > MAX_HEADER_CHARS || v.length > MAX_HEADER_CHARS) continue;
    out[k] = v;
    n++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ditto protocol envelopes on /ws/2

/** `<namespace>/<name>/things/live/messages/<subject>` */
export function messageEnvelopeTopic(thingId: string, subject: string): string {
  const colon = thingId.indexOf(':');
  return `${thingId.slice(0, colon)}/${thingId.slice(colon + 1)}/things/live/messages/${subject}`;
}

/** A message as a `/ws/2` client that sent START-SEND-MESSAGES receives it. */
export function messageEnvelope(m: WireMessage): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...m.headers };
  headers['thing-id'] = m.thingId;
  if (m.featureId !== undefined) headers['feature-id'] = m.featureId;
  headers.subject = m.subject;
  headers.direction = m.mailbox === 'inbox' && m.status === undefined ? 'TO' : 'FROM';
  const contentType = m.body.contentType;
  if (contentType !== undefined) headers['content-type'] = contentType;
  if (m.correlationId !== undefined) headers['correlation-id'] = m.correlationId;
  if (m.timeout !== undefined) {
    headers.timeout = String(m.timeout);
    headers['response-required'] = m.timeout > 0;
  }
  const envelope: Record<string, unknown> = {
    topic: messageEnvelopeTopic(m.thingId, m.subject),
    headers,
    path: messagePath(m),
  };
  const value = bodyToValue(m.body);
  if (value !== undefined) envelope.value = value;
  if (m.status !== undefined) envelope.status = m.status;
  return envelope;
}

/** A `/ws/2` frame whose topic is `<ns>/<name>/things/live/messages/<subject>`, read. */
export interface ParsedMessageEnvelope {
  message: WireMessage;
  /** The envelope's correlation id as sent (undefined when absent). */
  correlationId?: string;
}

const LIVE_MESSAGES = '/things/live/messages/';

/** Whether a parsed frame's topic is a live message's (and not a twin command's). */
export function isMessageEnvelopeTopic(topic: string): boolean {
  const i = topic.indexOf(LIVE_MESSAGES);
  return i > 0 && topic.indexOf('/') < i && topic.lastIndexOf('/', i - 1) === topic.indexOf('/');
}

/**
 * A Ditto message envelope from a client. Mailbox and feature come from `path`
 * (`[/features/<id>]/(inbox|outbox)/messages/<subject>`); a `status` makes it a response.
 */
export function parseMessageEnvelope(envelope: Record<string, unknown>): WireMessage | { problem: string } {
  const topic = envelope.topic as string;
  const i = topic.indexOf(LIVE_MESSAGES);
  const [namespace, name] = topic.slice(0, i).split('/');
  const subject = topic.slice(i + LIVE_MESSAGES.length);
  const problem = subjectProblem(subject);
  if (problem) return { problem };
  const headers = lowerCaseHeaders(envelope.headers);
  const path = typeof envelope.path === 'string' ? envelope.path : '';
  const m = /^(?:\/features\/([^/]+))?\/(inbox|outbox)\/messages\/(.+)$/.exec(path);
  if (!m || m[3] !== subject) {
    return {
      problem: `The path '${path.slice(0, 200)}' does not address the subject '${subject}' of a mailbox.`,
    };
  }
  const featureId = m[1];
  if (featureId !== undefined && featureIdProblem(featureId))
    return { problem: featureIdProblem(featureId)! };
  const contentType = headers['content-type'];
  const body = bodyFromValue(contentType, envelope.value);
  if ('problem' in body) return body;
  const status = envelope.status;
  if (
    status !== undefined &&
    !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599)
  ) {
    return { problem: "'status' must be an HTTP status code (100 to 599)." };
  }
  let timeout = headers.timeout === undefined ? undefined : durationSeconds(headers.timeout);
  if (headers.timeout !== undefined && timeout === undefined) {
    return {
      problem: `The timeout '${headers.timeout.slice(0, 50)}' is not a duration such as 10, 10s or 500ms.`,
    };
  }
  if (headers['response-required'] === 'false') timeout = 0;
  return {
    thingId: `${namespace}:${name}`,
    ...(featureId === undefined ? {} : { featureId }),
    subject,
    mailbox: m[2] as Mailbox,
    ...(headers['correlation-id'] ? { correlationId: headers['correlation-id'] } : {}),
    ...(contentType === undefined ? {} : { contentType }),
    headers: boundedHeaders(headers),
    body,
    ...(timeout === undefined ? {} : { timeout }),
    ...(status === undefined ? {} : { status: status as number }),
  };
}

/** A Ditto `timeout` header (`10`, `10s`, `500ms`, `1m`) in whole seconds (rounded up). */
export function durationSeconds(raw: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m)?$/.exec(raw.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'ms' ? Math.ceil(n / 1000) : m[2] === 'm' ? n * 60 : n;
}
