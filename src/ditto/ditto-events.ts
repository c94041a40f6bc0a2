import { Logger } from '@nestjs/common';
import {
  DittoNodeClient,
  type DittoWebSocketTwinClient,
  type WebSocketStateHandler,
} from '@eclipse-ditto/ditto-javascript-client-node';
import WebSocket from 'ws';
import { wsAuth } from './ditto-auth.js';
import { expectConnectError } from './ditto-client-internals.js';
import type { DittoSettings } from './ditto-settings.js';
import { parseEventTopic, type DittoEvent } from './sync-ops.js';
import { parsePointer } from '../twins/model/json-pointer.js';

export interface EventStreamHandlers {
  event(e: DittoEvent): void;
  /** Events flow (again): whatever happened while they did not must be reconciled now. */
  live(): void;
  down(reason: string): void;
}

const BACKOFF_MIN_MS = 500;

/**
 * Ditto's twin events over its WebSocket, through the official client, kept alive forever.
 *
 * The client's own reconnect neither re-sends START-SEND-EVENTS nor keeps trying (it gives up
 * after about two minutes with an unhandled rejection), and a failed first connect rejects
 * unhandled too (ditto-client-internals.ts copes with both). So the client is built with
 * reconnect off; when its socket goes, this class drops it, probes the endpoint with a bare
 * WebSocket until the upgrade succeeds (so the client is only built when it can connect), builds
 * a new one and requests events again.
 */
export class DittoEventStream {
  private readonly logger = new Logger('DittoEvents');
  private client: DittoWebSocketTwinClient | null = null;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private connectedFlag = false;
  private readonly opened = new WeakSet<DittoWebSocketTwinClient>();

  constructor(
    private readonly settings: DittoSettings,
    private readonly handlers: EventStreamHandlers,
  ) {}

  get connected(): boolean {
    return this.connectedFlag;
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.drop();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect().catch((err: unknown) => this.retry(`could not subscribe: ${String(err)}`));
    }, delayMs);
  }

  private retry(reason: string): void {
    this.drop();
    const wait = Math.min(this.settings.retryMaxMs, BACKOFF_MIN_MS * 2 ** Math.min(this.attempt++, 16));
    this.logger.warn(`Ditto events unavailable (${reason}); trying again in ${wait} ms`);
    this.schedule(wait);
  }

  private async connect(): Promise<void> {
    await probe(this.url(), this.settings);
    if (this.stopped) return;
    const client = this.build();
    this.client = client;
    const events = client.getEventsHandle();
    await events.requestEvents();
    this.opened.add(client);
    if (this.client !== client) return;
    events.subscribeToAllEvents((msg) => this.receive(msg));
    this.attempt = 0;
    this.connectedFlag = true;
    this.logger.log('receiving twin events from Ditto');
    this.handlers.live();
  }

  private build(): DittoWebSocketTwinClient {
    let mine: DittoWebSocketTwinClient | null = null;
    const lost = () => {
      if (mine === null || this.client !== mine) return;
      this.connectedFlag = false;
      this.handlers.down('the WebSocket to Ditto closed');
      this.retry('the WebSocket to Ditto closed');
    };
    const state: WebSocketStateHandler = {
      connected: () => {
        if (mine) this.opened.add(mine);
      },
      buffering: () => undefined,
      backPressure: () => undefined,
      bufferFull: () => undefined,
      reconnecting: lost,
      disconnected: () => {
        // A first connect that fails rejects with the socket's Error, unhandled by the client.
        if (!mine || !this.opened.has(mine)) expectConnectError();
        lost();
      },
    };
    const tls = this.settings.tls
      ? DittoNodeClient.newWebSocketClient().withTls()
      : DittoNodeClient.newWebSocketClient().withoutTls();
    const located = this.settings.prefix ? tls.withCustomPath(`${this.settings.prefix}/ws`) : tls;
    mine = located
      .withDomain(this.settings.domain)
      .withAuthProvider(wsAuth(this.settings))
      .withReconnect(false)
      .withBuffer(100)
      .twinChannel()
      .withStateHandler(state)
      .build();
    return mine;
  }

  private receive(msg: Envelope): void {
    const parsed = parseEventTopic(msg.topic);
    if (!parsed) return;
    this.handlers.event({
      ...parsed,
      path: parsePointer(msg.path || '/'),
      value: msg.value,
      correlationId: headerOf(msg.headers, 'correlation-id'),
    });
  }

  private drop(): void {
    this.connectedFlag = false;
    const client = this.client;
    this.client = null;
    if (client) {
      try {
        client.close();
      } catch {
        // already gone
      }
    }
  }

  private url(): string {
    return `${this.settings.tls ? 'wss' : 'ws'}://${this.settings.domain}${this.settings.prefix || ''}/ws/2`;
  }
}

interface Envelope {
  topic: string;
  path: string;
  value?: unknown;
  headers?: Record<string, unknown>;
}

function headerOf(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return String(v);
  return undefined;
}

/** Resolves when a WebSocket upgrade with our credentials succeeds; the socket is closed at once. */
function probe(url: string, settings: DittoSettings): Promise<void> {
  const headers: Record<string, string> = {};
  if (settings.auth?.kind === 'basic') {
    headers.Authorization = `Basic ${Buffer.from(`${settings.auth.username}:${settings.auth.password}`).toString('base64')}`;
  } else if (settings.auth?.kind === 'bearer') {
    headers.Authorization = `Bearer ${settings.auth.token}`;
  }
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: settings.timeoutMs });
    ws.once('open', () => {
      ws.close();
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
    });
    ws.once('error', (err) => reject(err));
  });
}
