import {
  BasicErrorResponse,
  NodeWebSocket,
  type DittoHttpClient,
  type RequestSender,
} from '@eclipse-ditto/ditto-javascript-client-node';

/**
 * Everything the Ditto sync relies on in @eclipse-ditto/ditto-javascript-client-node beyond its
 * public API, in one place. The package is pinned exactly (package.json), and
 * test/integration/ditto-client-internals.contract.spec.ts fails if an upgrade changes any of it:
 *
 * - `NodeWebSocket.prototype.reconnect` and the socket's `shouldReconnect`: with reconnect off,
 *   every close rejects `'Reconnect disabled'` into the void (quietReconnect below).
 * - A failed first connect rejects with the socket's Error that nothing handles, after the state
 *   handler's `disconnected` (expectConnectError / holdClientRejections).
 * - The handles' private `requestFactory`: the request sender that takes raw JSON (rawSenders).
 * - A non-2xx answer rejects with a `BasicErrorResponse` wrapping Ditto's error JSON (answerOf).
 *
 * These are the very calls the sync made before they moved here: the sockets and request
 * senders are the client's own, so nothing about the hot path changes.
 */

type Reconnect = (this: { shouldReconnect: boolean }, retry: number) => Promise<unknown>;
const socketPrototype = NodeWebSocket.prototype as unknown as { reconnect?: Reconnect };
const clientReconnect = socketPrototype.reconnect;
if (typeof clientReconnect !== 'function') {
  throw new Error(
    'the Ditto client no longer has NodeWebSocket.prototype.reconnect; see ditto-client-internals.ts',
  );
}
/**
 * A close that is not to be followed by a reconnect has nothing to report, so it gets a promise
 * that never settles instead of one that rejects unhandled (which stops Node).
 */
socketPrototype.reconnect = function (retry) {
  return this.shouldReconnect ? clientReconnect.call(this, retry) : new Promise(() => undefined);
};

/** The request senders of the things and policies handles, which send our JSON as it is. */
export function rawSenders(client: DittoHttpClient): { things: RequestSender; policies: RequestSender } {
  return {
    things: senderOf(client.getThingsHandle(), 'things'),
    policies: senderOf(client.getPoliciesHandle(), 'policies'),
  };
}

function senderOf(handle: object, name: string): RequestSender {
  const sender = (handle as { requestFactory?: RequestSender }).requestFactory;
  if (typeof sender?.fetchRequest !== 'function') {
    throw new Error(`the Ditto client's ${name} handle no longer has a requestFactory with fetchRequest`);
  }
  return sender;
}

/** Longest message or description kept from an answer: a proxy may answer with a whole page. */
const TEXT_MAX = 500;

/**
 * What a request of the client rejected with, as a plain value: an Error stays as it is (Ditto
 * was not reached); a non-2xx answer becomes Ditto's error JSON with the HTTP status
 * (`{ status, error, message, description }`), or `{ status, message }` when the body was not
 * JSON. Anything else is returned unchanged.
 */
export function answerOf(rejection: unknown): unknown {
  if (!(rejection instanceof BasicErrorResponse)) return rejection;
  const status = rejection.status;
  const body: unknown = rejection.body;
  if (typeof body === 'string') return { status, message: clip(body) };
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { status };
  const json = body as Record<string, unknown>;
  const answer: Record<string, unknown> = { status };
  if (typeof json.error === 'string') answer.error = clip(json.error);
  if (typeof json.message === 'string') answer.message = clip(json.message);
  if (typeof json.description === 'string') answer.description = clip(json.description);
  return answer;
}

function clip(text: string): string {
  return text.length > TEXT_MAX ? `${text.slice(0, TEXT_MAX)}…` : text;
}

/** Failed first connects whose Error the client is about to leave unhandled. */
let expectedErrors = 0;
let holders = 0;

/**
 * To be called from a WebSocket client's `disconnected` state handler when it never connected:
 * the client rejects with the socket's Error right after, and nothing handles that rejection.
 */
export function expectConnectError(): void {
  expectedErrors++;
}

/** Whether an unhandled rejection is one the client leaves behind (and consumes it if so). */
export function isClientRejection(reason: unknown): boolean {
  if (typeof reason === 'string') return reason.startsWith('Reconnect ');
  if (reason instanceof Error && expectedErrors > 0) {
    expectedErrors--;
    return true;
  }
  return false;
}

const onRejection = (reason: unknown): void => {
  if (isClientRejection(reason)) return;
  // Anything else keeps Node's default: an unhandled rejection ends the process.
  throw reason;
};

/**
 * Lets the process survive the rejections the client leaves unhandled while the returned
 * release has not been called. The handler is process-wide (that is where they surface), so it
 * is installed once for all holders.
 */
export function holdClientRejections(): () => void {
  if (holders++ === 0) process.on('unhandledRejection', onRejection);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) process.off('unhandledRejection', onRejection);
  };
}
