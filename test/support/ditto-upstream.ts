import { createServer, Socket, type Server } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import pg from 'pg';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/config.schema.js';
import { ConfigService } from '../../src/config/config.service.js';
import { basicAuthHeader, TEST_USERS, withTestAuth } from './auth.js';
import { createTestDatabase } from './database.js';
import { expectDittoRequest } from './openapi-request.js';

/**
 * The credentials the sync under test signs in to "Ditto" with: the default test user, the one
 * the test's own requests to either side use too, so each reads what the other wrote.
 */
export const SYNC_USER = {
  DITTO_USERNAME: TEST_USERS.ditto.username,
  DITTO_PASSWORD: TEST_USERS.ditto.password,
};

/**
 * A second instance of the platform standing in for Eclipse Ditto (its /api/2 and /ws/2 are
 * Ditto's: things, policies with Ditto's rules — a thing linking a missing policy gets a default
 * one, a policy must keep an administrator — and twin events only, no policy events on /ws/2),
 * with authentication on (the test users, unless `env` configures it). It can be
 * stopped and started again on the same database. Every HTTP request the sync sends it (those
 * that arrive through a proxy of `openProxy()`; the test's own go to `baseUrl` directly) is
 * checked against Ditto's OpenAPI spec and must carry SYNC_USER's credentials; close() fails the
 * test if any was not a request Ditto documents.
 */
export class Upstream {
  app: INestApplication | null = null;
  port = 0;
  readonly violations: string[] = [];
  /** Requests the sync sent, as "METHOD /path". */
  readonly syncRequests: string[] = [];
  /** The relays the sync reaches this upstream through. */
  private readonly proxies: TcpProxy[] = [];

  private constructor(
    private readonly database: { url: string; drop: () => Promise<void> },
    readonly db: pg.Client,
    private readonly env: Record<string, string>,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<Upstream> {
    const database = await createTestDatabase();
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    const upstream = new Upstream(database, db, env);
    await upstream.resume();
    return upstream;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async resume(): Promise<void> {
    const config = new ConfigService(
      loadConfig({
        LOG_LEVEL: 'error',
        ...withTestAuth(this.env),
        DATABASE_URL: this.database.url,
        PORT: '0',
        HOST: '127.0.0.1',
      }),
    );
    // Before anything answers a route (the direct reads included), so it sees every request.
    const app = await createApp(config, { beforeRoutes: this.recorder() });
    // The same port again after a halt, as a restarted Ditto would be.
    await app.listen(this.port, '127.0.0.1');
    this.port = (app.getHttpServer().address() as { port: number }).port;
    this.app = app;
  }

  /** A relay to this upstream for the sync to use as DITTO_URL; what comes through it is the sync's. */
  async openProxy(): Promise<TcpProxy> {
    const proxy = new TcpProxy(this.port);
    await proxy.open();
    this.proxies.push(proxy);
    return proxy;
  }

  async halt(): Promise<void> {
    const app = this.app;
    this.app = null;
    await app?.close();
  }

  async close(): Promise<void> {
    await this.halt();
    await this.db.end();
    await this.database.drop();
    if (this.violations.length > 0) {
      throw new Error(
        `requests of the sync that Ditto's API does not document:\n${this.violations.join('\n\n')}`,
      );
    }
  }

  private recorder() {
    return (
      req: IncomingMessage & { rawBody?: Buffer; originalUrl?: string },
      res: ServerResponse,
      next: () => void,
    ) => {
      if (!this.proxies.some((p) => p.relays(req.socket.remotePort))) return next();
      const url = req.originalUrl ?? req.url ?? '';
      res.on('finish', () => {
        this.syncRequests.push(`${req.method} ${url}`);
        if (req.headers.authorization !== SYNC_AUTHORIZATION) {
          this.violations.push(`${req.method} ${url} came without the sync's credentials`);
        }
        try {
          expectDittoRequest({
            method: req.method ?? 'GET',
            url,
            headers: req.headers,
            body: req.rawBody?.toString('utf8') ?? '',
          });
        } catch (err) {
          this.violations.push((err as Error).message);
        }
      });
      next();
    };
  }
}

const SYNC_AUTHORIZATION = basicAuthHeader('ditto');

/**
 * A TCP relay in front of the upstream, so a test can cut the network between the sync and
 * "Ditto" while both keep running, and point it at a restarted upstream on another port.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Local ports of the open connections to the target, to tell relayed requests apart there. */
  private readonly relayPorts = new Set<number>();
  port = 0;

  constructor(public targetPort: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      this.sockets.add(client).add(upstream);
      let relayPort: number | undefined;
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
        if (relayPort !== undefined) this.relayPorts.delete(relayPort);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      upstream.connect(this.targetPort, '127.0.0.1', () => {
        relayPort = upstream.localPort;
        if (relayPort !== undefined) this.relayPorts.add(relayPort);
        client.pipe(upstream).pipe(client);
      });
    });
    await new Promise<void>((ok) => server.listen(this.port, '127.0.0.1', ok));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Whether a connection to the target from this client port is one this relay opened. */
  relays(port: number | undefined): boolean {
    return port !== undefined && this.relayPorts.has(port);
  }

  /** Refuses new connections and breaks the open ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((ok) => server.close(() => ok()));
  }
}
