import { Errors } from '../../common/errors.js';
import { bodyToBytes, type Mailbox, type WireMessage } from '../../protocol/messages.js';
import { MessageErrors } from '../messages.errors.js';
import { DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS } from '../messages.service.js';

/** What the URL of a message request addresses (read from the raw path, segments decoded). */
export interface MessageRoute {
  thingId: string;
  featureId?: string;
  mailbox: Mailbox;
  subject: string;
  claim: boolean;
}

const PREFIX = '/api/2/things/';

function decode(segment: string, raw: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw MessageErrors.subjectInvalid(`The path '${raw.slice(0, 200)}' is not validly percent-encoded.`);
  }
}

/**
 * `/api/2/things/<id>/[features/<f>/](inbox|outbox)/messages/<subject…>` or
 * `/api/2/things/<id>/inbox/claim` (a claim is the inbox message with subject `claim`).
 */
export function parseMessageRoute(rawPath: string): MessageRoute {
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  const parts = path.slice(PREFIX.length).split('/');
  const thingId = decode(parts[0], path);
  if (parts[1] === 'inbox' && parts[2] === 'claim' && parts.length === 3) {
    return { thingId, mailbox: 'inbox', subject: 'claim', claim: true };
  }
  let at = 1;
  let featureId: string | undefined;
  if (parts[1] === 'features') {
    featureId = decode(parts[2] ?? '', path);
    at = 3;
  }
  const mailbox = parts[at];
  if ((mailbox !== 'inbox' && mailbox !== 'outbox') || parts[at + 1] !== 'messages') {
    throw Errors.notFoundRoute(path);
  }
  // Each level decoded on its own: `%2F` inside a level is refused, not a separator.
  const levels = parts.slice(at + 2).map((s) => decode(s, path));
  if (levels.some((l) => l.includes('/'))) {
    throw MessageErrors.subjectInvalid("A subject level must not contain an encoded '/'.");
  }
  return {
    thingId,
    ...(featureId === undefined ? {} : { featureId }),
    mailbox,
    subject: levels.join('/'),
    claim: false,
  };
}

/** Ditto's `timeout` of messages: whole seconds (an `s` suffix allowed), 0 to 60, 10 when absent. */
export function parseTimeout(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_TIMEOUT_SECONDS;
  const m = /^(\d{1,6})s?$/.exec(raw.trim());
  const seconds = m ? Number(m[1]) : NaN;
  if (!(seconds >= 0 && seconds <= MAX_TIMEOUT_SECONDS))
    throw MessageErrors.timeoutInvalid(raw, MAX_TIMEOUT_SECONDS);
  return seconds;
}

/** Request headers that are the transport's or the caller's secrets: never forwarded to a device. */
const NOT_FORWARDED = new Set([
  'authorization',
  'cookie',
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'accept-encoding',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'origin',
  'referer',
  'user-agent',
  'x-ditto-pre-authenticated',
  'content-type',
]);

/** The request's headers as forwarded with the message (lower-case names; see NOT_FORWARDED). */
export function forwardedHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (
      v === undefined ||
      NOT_FORWARDED.has(name) ||
      name.startsWith('proxy-') ||
      name.startsWith('x-forwarded-')
    ) {
      continue;
    }
    out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** How an answer leaves over HTTP: its status, and its payload with its content type (none for 204). */
export function answerResponse(answer: WireMessage): { status: number; contentType?: string; body?: Buffer } {
  const status = answer.status ?? 200;
  if (status === 204 || status === 304 || answer.body.kind === 'none') return { status };
  return { status, contentType: answer.body.contentType, body: bodyToBytes(answer.body) };
}
