import { randomUUID } from 'node:crypto';
import { afterEach, expect } from '@jest/globals';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import WebSocket from 'ws';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/config.schema.js';
import { ConfigService } from '../../src/config/config.service.js';
import { JournalFeed, seqAfter } from '../../src/journal/journal-feed.js';
import { JournalService } from '../../src/journal/journal.service.js';
import { authHeaders, withTestAuth, type TestUserName } from '../support/auth.js';
import { protocolViolations, sseThingViolations } from '../support/ditto-protocol.js';

/** Helpers shared by the realtime e2e specs: instances on a given database, WS and SSE clients. */

export interface Instance {
  app: INestApplication;
  baseUrl: string;
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * Boots the application as production does on an existing database, e.g. a second replica next
 * to `startTestApp()`, or one with realtime settings other than the defaults. Authentication is
 * on, with the test users, as in `startTestApp()`.
 */
export async function startInstance(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<Instance> {
  const config = new ConfigService(
    loadConfig({
      LOG_LEVEL: 'error',
      ...withTestAuth(env),
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
    }),
  );
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws/2`,
    close: () => app.close(),
  };
}

/** Waits for a condition (a bounded wait, not a timing assertion). */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  maxMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 10));
  }
}

/**
 * Waits until the app's journal feed has dispatched everything committed so far. A subscription
 * starts at the feed's head, which trails a commit by one read: without this, a client subscribing
 * right after a write may or may not see that write.
 */
export async function feedCaughtUp(app: INestApplication): Promise<void> {
  const feed = app.get(JournalFeed);
  const head = await app.get(JournalService).headSeq();
  await until(`the feed to reach seq ${head}`, () => !seqAfter(head, feed.head));
}

export interface DittoMessage {
  topic: string;
  headers: Record<string, unknown>;
  path: string;
  value?: unknown;
  status?: number;
  revision?: number;
  timestamp?: string;
  extra?: Record<string, unknown>;
  fields?: string;
}

/**
 * A raw `ws` client speaking Ditto's WebSocket protocol, recording what it receives. It signs the
 * upgrade in as `user` (HTTP basic, as Ditto's clients do); `null` sends no credentials.
 */
export class DittoSocket {
  /** What received messages (and SSE things) broke Ditto's schemas since the last test's end. */
  static readonly violations: string[] = [];
  readonly texts: string[] = [];
  readonly messages: DittoMessage[] = [];
  closeCode?: number;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = (data as Buffer).toString('utf8');
      if (!text.startsWith('{')) {
        this.texts.push(text);
        return;
      }
      const message = JSON.parse(text) as DittoMessage;
      DittoSocket.violations.push(...protocolViolations(message));
      this.messages.push(message);
    });
    ws.on('close', (code) => (this.closeCode = code));
  }

  static open(
    url: string,
    options: WebSocket.ClientOptions = {},
    user: TestUserName | null = 'ditto',
  ): Promise<DittoSocket> {
    const headers = { ...(user === null ? {} : authHeaders(user)), ...options.headers };
    const ws = new WebSocket(url, { ...options, headers });
    return new Promise((ok, fail) => {
      ws.once('open', () => ok(new DittoSocket(ws)));
      ws.once('error', fail);
      ws.once('unexpected-response', (_req, res) => fail(new Error(`upgrade answered ${res.statusCode}`)));
    });
  }

  get events(): DittoMessage[] {
    return this.messages.filter((m) => m.topic.includes('/things/twin/events/'));
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** Sends a control message and waits for its bare `:ACK`. */
  async control(message: string): Promise<void> {
    const name = message.split('?')[0];
    const before = this.texts.filter((t) => t === `${name}:ACK`).length;
    this.send(message);
    await until(`${name}:ACK`, () => this.texts.filter((t) => t === `${name}:ACK`).length > before);
  }

  /** Sends a Ditto Protocol command and waits for the message with its correlation-id. */
  async command(
    envelope: Omit<DittoMessage, 'headers'> & { headers?: Record<string, unknown> },
  ): Promise<DittoMessage> {
    const correlationId = randomUUID();
    this.send(
      JSON.stringify({ ...envelope, headers: { ...envelope.headers, 'correlation-id': correlationId } }),
    );
    let answer: DittoMessage | undefined;
    await until(`the answer to ${envelope.topic}`, () => {
      answer = this.messages.find(
        (m) => m.headers['correlation-id'] === correlationId && !m.topic.includes('/events/'),
      );
      return answer !== undefined;
    });
    return answer!;
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((ok) => {
      this.ws.once('close', () => ok());
      this.ws.close();
    });
  }
}

// Every spec using DittoSocket checks, after each test, that all it received was Ditto Protocol
// by Ditto's own schemas: the suite's messages cover far more shapes than one dedicated test would.
afterEach(() => {
  const found = DittoSocket.violations.splice(0);
  expect(found).toEqual([]);
});

export interface SseEvent {
  id?: string;
  data: string;
}

/**
 * A minimal EventSource over node:http that records events and can be cut off. It signs in as
 * `user` (HTTP basic); `null` sends no credentials.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  ended = false;
  private req?: ClientRequest;

  static async open(
    url: string,
    headers: Record<string, string> = {},
    user: TestUserName | null = 'ditto',
  ): Promise<SseClient> {
    const client = new SseClient();
    await client.connect(url, { ...(user === null ? {} : authHeaders(user)), ...headers });
    return client;
  }

  private connect(url: string, headers: Record<string, string>): Promise<void> {
    // Streams of whole things (not of a part of one, not messages) send things, checked as such.
    const thingStream = /^\/api\/2\/things(\/[^/]+)?$/.test(new URL(url).pathname);
    return new Promise((ok, fail) => {
      this.req = httpRequest(
        url,
        { headers: { Accept: 'text/event-stream', ...headers } },
        (res: IncomingMessage) => {
          if (res.statusCode !== 200) {
            fail(new Error(`SSE answered ${res.statusCode}`));
            return;
          }
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let end;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const event: SseEvent = { data: '' };
              let name = 'message';
              for (const line of block.split('\n')) {
                if (line.startsWith('data:')) event.data += line.slice(5);
                else if (line.startsWith('id:')) event.id = line.slice(3);
                else if (line.startsWith('event:')) name = line.slice(6).trim();
              }
              if (event.data === '') continue;
              if (name === 'message' && thingStream)
                DittoSocket.violations.push(...sseThingViolations(url, event.data));
              this.events.push(event);
            }
          });
          res.on('end', () => (this.ended = true));
          res.on('error', () => (this.ended = true));
          ok();
        },
      );
      this.req.on('error', (err) => {
        this.ended = true;
        fail(err);
      });
      this.req.end();
    });
  }

  close(): void {
    this.req?.destroy();
  }
}
