import { WebSocket, type RawData } from 'ws';
import { DomainError, toDomainError } from '../common/domain-error.js';
import {
  errorEnvelope,
  parseFrame,
  ProtocolError,
  responseEnvelope,
  tooManyRequests,
  type ProtocolCommand,
} from '../protocol/twin-commands.js';
import type { StreamDeps } from './event-stream.js';
import type { WsPrincipal } from './ws-authenticator.js';
import type { TwinCommandExecutor } from './ws-commands.js';
import { LiveMessages, type LiveMessageDeps } from './ws-live-messages.js';
import { WsEventStreams } from './ws-event-streams.js';
import { WsOutbound } from './ws-outbound.js';
import { OwnChanges } from './ws-own-changes.js';
import { PersistedEventSubscriptions } from './ws-persisted-events.js';
import type { PersistedEventsDeps } from './ws-persisted-subscription.js';
import { parseStreamingCommand } from './ws-streaming-protocol.js';

/** Close codes of /ws/2 (documented in README ## Realtime). */
export const CLOSE_BACKPRESSURE = 4008;
export const CLOSE_IDLE = 4000;
export const CLOSE_GOING_AWAY = 1001;

/** Commands a session may have waiting; more are answered 429, which Ditto clients retry. */
const MAX_QUEUED_COMMANDS = 256;
/**
 * Ditto acknowledges these even though this platform never sends live commands, live events or
 * policy announcements (live messages are START-SEND-MESSAGES, README ## Messages).
 */
const NOOP_CONTROLS = new Set(
  ['LIVE-COMMANDS', 'LIVE-EVENTS', 'POLICY-ANNOUNCEMENTS'].flatMap((k) => [
    `START-SEND-${k}`,
    `STOP-SEND-${k}`,
  ]),
);

export interface SessionDeps extends StreamDeps, LiveMessageDeps {
  commands: TwinCommandExecutor;
  idleTimeoutMs: number;
  /** Ditto's streaming subscriptions of a thing's history (subscribeForPersistedEvents). */
  history: Omit<PersistedEventsDeps, 'enforcers' | 'log' | 'rate'>;
  /** Counts events handed to the socket (metrics). */
  delivered?: (count: number) => void;
}

/**
 * One `/ws/2` connection speaking Ditto's WebSocket protocol: control messages, twin commands and
 * the event stream. A session does not receive the events of its own commands (OwnChanges).
 */
export class WsSession {
  alive = true;
  private commandChain: Promise<void> = Promise.resolve();
  private queuedCommands = 0;
  private readonly own = new OwnChanges();
  private idleTimer?: NodeJS.Timeout;
  private readonly outbound: WsOutbound;
  private readonly live: LiveMessages;
  private readonly persisted: PersistedEventSubscriptions;
  private readonly streams: WsEventStreams;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: SessionDeps,
    private readonly principal: WsPrincipal,
    readonly remotePort: number | undefined,
  ) {
    this.outbound = new WsOutbound(
      ws,
      deps.limit,
      () => this.close(CLOSE_BACKPRESSURE, 'backpressure: resume with from-event-id'),
      deps.delivered,
    );
    this.live = new LiveMessages(
      deps,
      principal,
      (text) => this.send(text),
      (err) => this.sendError(err),
      MAX_QUEUED_COMMANDS,
    );
    this.persisted = new PersistedEventSubscriptions(
      {
        ...deps.history,
        enforcers: deps.enforcers,
        rate: () => deps.rate(principal.defaultSubject),
        log: (details) => deps.logger.error(`streaming subscription failed: ${details}`),
      },
      principal,
      (text) => this.send(text),
    );
    this.streams = new WsEventStreams(
      deps,
      principal,
      this.outbound.sink,
      (text) => this.send(text),
      (err) => this.sendError(err),
      (code, reason) => this.close(code, reason),
      (e) => this.own.isOwn(e),
    );
  }

  start(): void {
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('pong', () => (this.alive = true));
    this.ws.on('error', (err) => this.deps.logger.debug(`WebSocket error: ${err.message}`));
    this.ws.once('close', () => this.closed());
    if (this.deps.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => this.close(CLOSE_IDLE, 'idle timeout'), this.deps.idleTimeoutMs);
      this.idleTimer.unref();
    }
  }

  /** Called every WS_PING_INTERVAL_MS: a peer that did not answer the last ping is gone. */
  heartbeat(): void {
    if (!this.alive) {
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  close(code: number, reason: string): void {
    this.persisted.close();
    this.streams.closeAll();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
    }
  }

  /** Outbound state, for tests and metrics. */
  stats(): { remotePort: number | undefined; buffered: number; peakPending: number; open: boolean } {
    return {
      remotePort: this.remotePort,
      buffered: this.ws.bufferedAmount,
      peakPending: this.streams.peakPending,
      open: this.ws.readyState === WebSocket.OPEN,
    };
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.alive = true;
    this.idleTimer?.refresh();
    const bytes = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    const text = bytes.toString('utf8');
    if (!isBinary && !text.trimStart().startsWith('{')) {
      this.onControl(text.trim());
      return;
    }
    // Ditto's streaming subscriptions (history) are answered by their own events, not queued.
    if (text.includes('/streaming/') && this.onStreaming(text)) return;
    let cmd: ProtocolCommand;
    try {
      const frame = parseFrame(text);
      if (frame.kind === 'message') {
        this.live.onMessage(frame.envelope);
        return;
      }
      cmd = frame.command;
    } catch (err) {
      this.sendError(err);
      return;
    }
    if (this.queuedCommands >= MAX_QUEUED_COMMANDS) {
      this.send(errorEnvelope(entityOf(cmd), cmd.correlationId, tooManyRequests(cmd.thingId)));
      return;
    }
    this.queuedCommands++;
    this.commandChain = this.commandChain
      .then(() => this.runCommand(cmd))
      .catch((err: unknown) => this.sendError(err, cmd))
      .finally(() => this.queuedCommands--);
  }

  /** True when the frame was a streaming subscription command (and is handled). */
  private onStreaming(text: string): boolean {
    let envelope: unknown;
    try {
      envelope = JSON.parse(text);
    } catch {
      return false;
    }
    const cmd = parseStreamingCommand(envelope);
    if (!cmd) return false;
    this.persisted.handle(cmd);
    return true;
  }

  private onControl(message: string): void {
    const q = message.indexOf('?');
    const name = q < 0 ? message : message.slice(0, q);
    const query = q < 0 ? '' : message.slice(q + 1);
    if (name === 'START-SEND-EVENTS') this.streams.startEvents(query);
    else if (name === 'START-SEND-MESSAGES') this.live.start(query);
    else if (name === 'STOP-SEND-MESSAGES') {
      this.live.stop();
      this.send('STOP-SEND-MESSAGES:ACK');
    } else if (name === 'START-SEND-POLICY-EVENTS') this.streams.startPolicyEvents(query);
    else if (name === 'STOP-SEND-POLICY-EVENTS') {
      this.streams.stopPolicyEvents();
      this.send('STOP-SEND-POLICY-EVENTS:ACK');
    } else if (name === 'STOP-SEND-EVENTS') {
      this.streams.stopEvents();
      this.send('STOP-SEND-EVENTS:ACK');
    } else if (NOOP_CONTROLS.has(name)) this.send(`${name}:ACK`);
    else if (name !== 'JWT-TOKEN') {
      this.sendError(
        new DomainError(
          400,
          'gateway:request.invalid',
          `Unknown control message '${name.slice(0, 64)}'.`,
          'Send START-SEND-EVENTS[?namespaces=…&filter=…&extraFields=…&from-event-id=…], STOP-SEND-EVENTS or a Ditto Protocol JSON message.',
        ),
      );
    }
  }

  private async runCommand(cmd: ProtocolCommand): Promise<void> {
    const refused = await this.deps.rate(this.principal.defaultSubject);
    if (refused) {
      this.send(errorEnvelope(entityOf(cmd), cmd.correlationId, refused));
      return;
    }
    const write = cmd.action !== 'retrieve';
    if (write) this.own.begin(cmd.correlationId);
    let seq: string | undefined;
    try {
      const result = await this.deps.commands.execute(cmd, this.principal);
      seq = result.seq;
      if (cmd.responseRequired) this.send(responseEnvelope(cmd, result.status, result.value));
    } finally {
      if (write) this.own.settle(cmd.correlationId, seq, this.streams.streaming);
    }
  }

  private sendError(err: unknown, cmd?: ProtocolCommand): void {
    if (err instanceof ProtocolError) {
      this.send(errorEnvelope(err.entity, err.correlationId, err.error));
      return;
    }
    const error = toDomainError(err, (details) => this.deps.logger.error(`command failed: ${details}`));
    this.send(errorEnvelope(cmd ? entityOf(cmd) : '_/_', cmd?.correlationId, error));
  }

  private send(text: string): void {
    this.outbound.send(text);
  }

  private closed(): void {
    this.live.stop();
    this.persisted.close();
    this.streams.end();
    clearTimeout(this.idleTimer);
    this.outbound.wake();
  }
}

function entityOf(cmd: ProtocolCommand): string {
  return cmd.topic.split('/').slice(0, 2).join('/');
}
