import { RequestRate } from '../auth/request-rate.js';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { originAllowed } from '../auth/origin.js';
import { DomainError } from '../common/domain-error.js';
import { ConfigService } from '../config/config.service.js';
import { JournalFeed } from '../journal/journal-feed.js';
import { MessagesService } from '../messages/messages.service.js';
import { HistoricalStreams } from './historical-feed.js';
import { PolicyEnforcers } from './policy-enforcers.js';
import { ThingStates } from './thing-states.js';
import { WsAuthenticator, type WsPrincipal } from './ws-authenticator.js';
import { TwinCommandExecutor } from './ws-commands.js';
import { CLOSE_GOING_AWAY, WsSession } from './ws-session.js';
import { RealtimeStats } from './realtime-stats.js';

/** ws' verifyClient callback: accept, or refuse the upgrade with an HTTP status. */
export type VerifyCallback = (
  ok: boolean,
  code?: number,
  message?: string,
  headers?: Record<string, string>,
) => void;

/**
 * The `/ws/2` sessions of this process: admission (authentication seam, WS_MAX_CONNECTIONS),
 * ping/pong liveness every WS_PING_INTERVAL_MS, and the dependencies each session needs.
 */
@Injectable()
export class WsSessions implements OnModuleDestroy {
  private readonly logger = new Logger('WebSocket');
  private readonly sessions = new Set<WsSession>();
  private readonly principals = new WeakMap<IncomingMessage, WsPrincipal>();
  private admitting = 0;
  private pingTimer?: NodeJS.Timeout;

  constructor(
    @Inject(ConfigService) private readonly config: ConfigService,
    @Inject(JournalFeed) private readonly feed: JournalFeed,
    @Inject(ThingStates) private readonly states: ThingStates,
    @Inject(TwinCommandExecutor) private readonly commands: TwinCommandExecutor,
    @Inject(RequestRate) private readonly rate: RequestRate,
    @Inject(WsAuthenticator) private readonly authenticator: WsAuthenticator,
    @Inject(PolicyEnforcers) private readonly enforcers: PolicyEnforcers,
    @Inject(MessagesService) private readonly messages: MessagesService,
    @Inject(HistoricalStreams) private readonly historical: HistoricalStreams,
    @Inject(RealtimeStats) private readonly realtimeStats: RealtimeStats,
  ) {}

  /**
   * Runs before the upgrade is accepted: 403 for a browser page of a foreign origin, 503 beyond
   * the connection limit, 401 when the credentials are refused (429 after too many failures).
   */
  verify(req: IncomingMessage, done: VerifyCallback): void {
    if (!originAllowed(req.headers.origin, req.headers.host, this.config.get('CORS_ORIGINS'))) {
      done(false, 403, 'Forbidden: origin not allowed');
      return;
    }
    if (this.sessions.size + this.admitting >= this.config.get('WS_MAX_CONNECTIONS')) {
      done(false, 503, 'Service Unavailable: too many WebSocket connections', { 'Retry-After': '1' });
      return;
    }
    this.admitting++;
    this.authenticator.authenticate(req).then(
      (principal) => {
        this.admitting--;
        if (!principal) {
          done(false, 401, 'Unauthorized', { 'WWW-Authenticate': 'Basic realm="ditto"' });
          return;
        }
        this.principals.set(req, principal);
        // ws completes the upgrade and emits the connection synchronously, so the count stays exact.
        done(true);
      },
      (err: unknown) => {
        this.admitting--;
        if (err instanceof DomainError) {
          done(false, err.status, err.message, err.headers);
          return;
        }
        this.logger.error(`authentication failed: ${err instanceof Error ? err.message : String(err)}`);
        done(false, 500, 'Internal Server Error');
      },
    );
  }

  open(ws: WebSocket, req: IncomingMessage): void {
    const principal = this.principals.get(req);
    // verify() refuses every upgrade it found no principal for; fail closed should that change.
    if (!principal) {
      ws.close(1008, 'not authenticated');
      return;
    }
    const session = new WsSession(
      ws,
      {
        feed: this.feed,
        states: this.states,
        enforcers: this.enforcers,
        limit: this.config.get('WS_BUFFER_MAX_BYTES'),
        commands: this.commands,
        messages: this.messages,
        rate: (subject) => this.rate.take(subject),
        idleTimeoutMs: this.config.get('WS_IDLE_TIMEOUT_MS'),
        logger: this.logger,
        history: {
          historical: this.historical,
          feed: this.feed,
          idleTimeoutMs: this.config.get('WS_STREAMING_IDLE_TIMEOUT_MS'),
        },
        delivered: (n) => (this.realtimeStats.wsDelivered += n),
      },
      principal,
      req.socket.remotePort,
    );
    this.sessions.add(session);
    ws.once('close', (code) => {
      this.sessions.delete(session);
      this.realtimeStats.wsClosed(code);
    });
    session.start();
    this.ensurePing();
  }

  /** Per-connection outbound state, for tests and metrics. */
  stats(): ReturnType<WsSession['stats']>[] {
    return [...this.sessions].map((s) => s.stats());
  }

  get size(): number {
    return this.sessions.size;
  }

  onModuleDestroy(): void {
    clearInterval(this.pingTimer);
    for (const s of this.sessions) s.close(CLOSE_GOING_AWAY, 'server shutting down');
  }

  private ensurePing(): void {
    if (this.pingTimer) return;
    this.pingTimer = setInterval(() => {
      for (const s of this.sessions) s.heartbeat();
    }, this.config.get('WS_PING_INTERVAL_MS'));
    this.pingTimer.unref();
  }
}
