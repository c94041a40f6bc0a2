import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  BasicErrorResponse,
  DefaultMatchOptions,
  DittoNodeClient,
  NodeHttpBasicAuth,
} from '@eclipse-ditto/ditto-javascript-client-node';
import ts from 'typescript';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  answerOf,
  holdClientRejections,
  isClientRejection,
  rawSenders,
} from '../../src/ditto/ditto-client-internals.js';
import { DittoCallError, DittoGateway } from '../../src/ditto/ditto-gateway.js';
import type { DittoSettings } from '../../src/ditto/ditto-settings.js';

/**
 * The contract of src/ditto/ditto-client-internals.ts: what the Ditto sync relies on in
 * @eclipse-ditto/ditto-javascript-client-node beyond its public API, run against the installed
 * (exactly pinned) version with a real HTTP server and a real WebSocket server on local ports.
 * A failure here after an upgrade means the adapter must change before the upgrade can land.
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let http: Server;
let domain: string;
const seen: Seen[] = [];
/** What the HTTP server answers next: status, content type and body. */
let answer: { status: number; type: string; body: string } = {
  status: 200,
  type: 'application/json',
  body: '{}',
};

beforeAll(async () => {
  http = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(answer.status, { 'content-type': answer.type });
      res.end(answer.body);
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  domain = `127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  http.close();
  await once(http, 'close');
});

afterEach(() => {
  seen.length = 0;
  answer = { status: 200, type: 'application/json', body: '{}' };
});

function httpClient() {
  return DittoNodeClient.newHttpClient()
    .withoutTls()
    .withDomain(domain)
    .withAuthProvider(NodeHttpBasicAuth.newInstance('sync', 's3cret'))
    .build();
}

/** A port nothing listens on: taken, then given back. */
async function deadPort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

describe('rawSenders: the handles’ requestFactory', () => {
  it('sends our JSON as it is, to the URL the client builds, signed, with our headers', async () => {
    const { things, policies } = rawSenders(httpClient());
    answer = { status: 201, type: 'application/json', body: '{"ok":true}' };
    // desiredProperties is what the client's own Feature model would drop.
    const payload = JSON.stringify({ properties: { a: 1 }, desiredProperties: { a: 2 } });
    const response = await things.fetchRequest({
      verb: 'PUT',
      id: 'org.example:t-1',
      path: 'features/f',
      requestOptions: DefaultMatchOptions.getInstance().addHeader('correlation-id', 'c-1'),
      payload,
    });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({ ok: true });

    const patch = DefaultMatchOptions.getInstance().addHeader('Content-Type', 'application/merge-patch+json');
    await policies.fetchRequest({
      verb: 'PATCH',
      id: 'org.example:p-1',
      requestOptions: patch,
      payload: '{}',
    });

    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({
      method: 'PUT',
      url: '/api/2/things/org.example:t-1/features/f',
      body: payload,
    });
    expect(seen[0].headers).toMatchObject({
      authorization: `Basic ${Buffer.from('sync:s3cret').toString('base64')}`,
      'correlation-id': 'c-1',
      'content-type': 'application/json',
    });
    expect(seen[1]).toMatchObject({ method: 'PATCH', url: '/api/2/policies/org.example:p-1', body: '{}' });
    expect(seen[1].headers['content-type']).toBe('application/merge-patch+json');
  });
});

describe('answerOf: what a request rejects with', () => {
  const settings: DittoSettings = {
    tls: false,
    domain: '',
    prefix: '',
    auth: { kind: 'basic', username: 'sync', password: 's3cret' },
    namespaces: '',
    concurrency: 1,
    timeoutMs: 5000,
    retryMaxMs: 1000,
  };
  const dittoError = {
    status: 413,
    error: 'things:thing.toolarge',
    message: "The size of '8' kB exceeds the maximal allowed Thing size of '4' kB.",
    description: 'Reduce the size of the Thing or of the request.',
  };

  it("is a BasicErrorResponse holding the HTTP status and Ditto's error JSON for a 4xx", async () => {
    answer = { status: 413, type: 'application/json', body: JSON.stringify(dittoError) };
    const rejection = await rawSenders(httpClient())
      .things.fetchRequest({ verb: 'PUT', id: 'org.example:big', payload: '{}' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(rejection).toBeInstanceOf(BasicErrorResponse);
    expect(answerOf(rejection)).toEqual(dittoError);
  });

  it('gives the status and the text of an answer that is not JSON', async () => {
    answer = { status: 502, type: 'text/html', body: '<h1>Bad Gateway</h1>' };
    const rejection = await rawSenders(httpClient())
      .things.fetchRequest({ verb: 'GET', id: 'org.example:x' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(answerOf(rejection)).toEqual({ status: 502, message: '<h1>Bad Gateway</h1>' });
  });

  it('is an Error when Ditto cannot be reached, and stays one', async () => {
    const port = await deadPort();
    const client = DittoNodeClient.newHttpClient()
      .withoutTls()
      .withDomain(`127.0.0.1:${port}`)
      .withAuthProvider(NodeHttpBasicAuth.newInstance('sync', 's3cret'))
      .build();
    const rejection = await rawSenders(client)
      .things.fetchRequest({ verb: 'GET', id: 'org.example:x' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(rejection).toBeInstanceOf(Error);
    expect(answerOf(rejection)).toBe(rejection);
  });

  it("lets the gateway report Ditto's error code and status for a refused write", async () => {
    answer = { status: 413, type: 'application/json', body: JSON.stringify(dittoError) };
    const gateway = new DittoGateway({ ...settings, domain });
    const err = await gateway
      .send({ verb: 'PUT', thingId: 'org.example:big', path: [], body: { attributes: {} } }, 'c-2')
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(DittoCallError);
    expect((err as DittoCallError).failure).toEqual({ kind: 'rejected', ...dittoError });
  });

  it('lets the gateway retry a 5xx with its status and message', async () => {
    answer = {
      status: 503,
      type: 'application/json',
      body: JSON.stringify({ status: 503, error: 'gateway:service.unavailable', message: 'busy' }),
    };
    const gateway = new DittoGateway({ ...settings, domain });
    const err = await gateway.getThing('org.example:x').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as DittoCallError).failure).toEqual({ kind: 'retry', status: 503, message: 'busy' });
  });
});

/**
 * Runs one WebSocket scenario in a worker thread: Jest replaces `process` inside a test with a
 * copy whose 'unhandledRejection' listeners never fire, so what the client leaves unhandled can
 * only be seen on a real one. The worker loads the package itself and, unless `raw`, the adapter
 * (transpiled from its source, so it is exactly what the app runs).
 */
function scenario(
  name: 'close' | 'connect-failure',
  at: string,
  raw = false,
): Promise<{ events: string[]; otherErrorTaken?: boolean }> {
  const source = readFileSync(ADAPTER, 'utf8');
  const adapter = raw
    ? ''
    : ts.transpileModule(source, {
        compilerOptions: {
          module: ts.ModuleKind.CommonJS,
          target: ts.ScriptTarget.ES2022,
          esModuleInterop: true,
        },
      }).outputText;
  const worker = new Worker(WORKER, { eval: true, workerData: { name, at, adapter, from: ADAPTER } });
  return new Promise((ok, fail) => {
    worker.once('message', ok);
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`the worker ended (${code}) without a result`)));
  });
}

const ADAPTER = fileURLToPath(new URL('../../src/ditto/ditto-client-internals.ts', import.meta.url));
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createRequire } = require('node:module');
const req = createRequire(workerData.from);
const ditto = req('@eclipse-ditto/ditto-javascript-client-node');
let internals;
if (workerData.adapter) {
  const mod = { exports: {} };
  new Function('require', 'module', 'exports', workerData.adapter)(req, mod, mod.exports);
  internals = mod.exports;
  internals.holdClientRejections();
}
const events = [];
process.on('unhandledRejection', (r) => events.push('rejection:' + (r instanceof Error ? 'Error' : String(r))));
const turns = async () => { for (let i = 0; i < 5; i++) await new Promise((ok) => setImmediate(ok)); };
const done = async () => {
  await turns();
  const otherErrorTaken = internals ? internals.isClientRejection(new Error('other')) : undefined;
  parentPort.postMessage({ events, otherErrorTaken });
  process.exit(0);
};
let opened = false;
const state = {
  connected: () => { opened = true; },
  buffering: () => undefined,
  backPressure: () => undefined,
  bufferFull: () => undefined,
  reconnecting: () => { events.push('reconnecting'); void done(); },
  disconnected: () => {
    events.push('disconnected');
    if (!opened && internals) internals.expectConnectError();
    if (workerData.name === 'connect-failure') void done();
  },
};
const client = ditto.DittoNodeClient.newWebSocketClient()
  .withoutTls()
  .withDomain(workerData.at)
  .withAuthProvider(ditto.NodeWebSocketBasicAuth.newInstance('sync', 's3cret'))
  .withReconnect(false)
  .withBuffer(100)
  .twinChannel()
  .withStateHandler(state)
  .build();
if (workerData.name === 'close') {
  client.getEventsHandle().requestEvents().then(() => events.push('events'), (e) => events.push('refused:' + String(e)));
}
`;

describe('NodeWebSocket without reconnect: closes and failed connects', () => {
  let wss: WebSocketServer;
  let wsDomain: string;

  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    wsDomain = `127.0.0.1:${(wss.address() as AddressInfo).port}`;
    // Acknowledges START-SEND-EVENTS as Ditto does, then the connection drops.
    wss.on('connection', (socket: WebSocket) => {
      socket.on('message', (data) => {
        if ((data as Buffer).toString() === 'START-SEND-EVENTS') {
          socket.send('START-SEND-EVENTS:ACK', () => socket.terminate());
        }
      });
    });
  });

  afterAll(async () => {
    wss.close();
    await once(wss, 'close');
  });

  it("rejects 'Reconnect disabled' unhandled on every close: the quirk the adapter patches", async () => {
    const result = await scenario('close', wsDomain, true);
    expect(result.events).toEqual(['events', 'reconnecting', 'disconnected', 'rejection:Reconnect disabled']);
  });

  it('closes without any rejection through the patched reconnect, telling the state handler', async () => {
    const result = await scenario('close', wsDomain);
    expect(result.events).toEqual(['events', 'reconnecting']);
  });

  it("leaves a failed first connect's Error unhandled right after `disconnected`; the guard takes it", async () => {
    const result = await scenario('connect-failure', `127.0.0.1:${await deadPort()}`);
    expect(result.events).toEqual(['disconnected', 'rejection:Error']);
    // The announced Error was taken (the process lived on); another one would not be.
    expect(result.otherErrorTaken).toBe(false);
  });

  it('takes the bare strings the client rejects with when it gives up reconnecting', () => {
    expect(isClientRejection('Reconnect disabled')).toBe(true);
    expect(isClientRejection('Reconnect failed: Timed out')).toBe(true);
    expect(isClientRejection('something else')).toBe(false);
    expect(isClientRejection(new Error('not announced'))).toBe(false);
  });

  it('keeps one process-wide handler while anyone holds it', () => {
    const before = process.listenerCount('unhandledRejection');
    const releaseA = holdClientRejections();
    const releaseB = holdClientRejections();
    expect(process.listenerCount('unhandledRejection')).toBe(before + 1);
    releaseA();
    releaseA();
    expect(process.listenerCount('unhandledRejection')).toBe(before + 1);
    releaseB();
    expect(process.listenerCount('unhandledRejection')).toBe(before);
  });
});
