import type { Logger } from '@nestjs/common';
import { WebSocket, type RawData } from 'ws';
import { DomainError, toDomainError } from '../common/domain-error.js';
import type { JournalEntry } from '../journal/journal.types.js';
import {
  errorEnvelope,
  parseCommand,
  ProtocolError,
  responseEnvelope,
  tooManyRequests,
  type ProtocolCommand,
} from './ditto-protocol.js';
import { EventAccess } from './event-access.js';
import { EventStream, type StreamDeps, type StreamSink } from './event-stream.js';
import { parseEventId, parseStreamSpec } from './stream-spec.js';
import { wireWithExtra } from './twin-event.js';
import type { WsPrincipal } from './ws-authenticator.js';
import { socketOf } from './ws-socket.js';
import type { TwinCommandExecutor } from './ws-commands.js';

/** Close codes of /ws/2 (documented in README ## Realtime). */
export const CLOSE_BACKPRESSURE = 4008;
export const CLOSE_IDLE = 4000;
export const CLOSE_GOING_AWAY = 1001;

/** Commands a session may have waiting; more are answered 429, which Ditto clients retry. */
const MAX_QUEUED_COMMANDS = 256;
/** Correlation ids of own writes remembered for suppressing their events (bounded). */
const MAX_OWN = 10_000;
/** Ditto acknowledges these even though this platform never sends live signals or announcements. */
const NOOP_CONTROLS = new Set(
  ['MESSAGES', 'LIVE-COMMANDS', 'LIVE-EVENTS', 'POLICY-ANNOUNCEMENTS'].flatMap((k) => [
    `START-SEND-${k}`,
    `STOP-SEND-${k}`,
  ]),
);

export interface SessionDeps extends StreamDeps {
  commands: TwinCommandExecutor;
  /** The subject's request budget (RATE_LIMIT_PER_SECOND): undefined to go on, else the 429. */
  rate: (subject: string) => Promise<DomainError | undefined>;
  idleTimeoutMs: number;
  logger: Logger;
}

/**
 * One `/ws/2` connection speaking Ditto's WebSocket protocol: control messages, twin commands and
 * the event stream. A session does not receive the events of its own commands: their correlation
 * ids are remembered while they run, and the journal seq of the change once it committed.
 */
export class WsSession {
  alive = true;
  private stream?: EventStream;
  /** START-SEND-POLICY-EVENTS: changes of policies the principal may read (a platform extension). */
  private policyStream?: EventStream;
  private commandChain: Promise<void> = Promise.resolve();
  private queuedCommands = 0;
  private readonly inFlight = new Map<string, number>();
  /** Seqs of own changes whose events have not arrived yet. */
  private readonly ownSeqs = new Set<string>();
  /** Seqs of own changes whose events arrived while the command was still running. */
  private readonly earlySeqs = new Set<string>();
  private idleTimer?: NodeJS.Timeout;
  private drainWaiters: (() => void)[] = [];
  private readonly sink: StreamSink;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: SessionDeps,
    readonly principal: WsPrincipal,
    readonly remotePort: number | undefined,
  ) {
    this.sink = {
      get buffered() {
        return ws.bufferedAmount;
      },
      // A Buffer is sent as a text frame as it is: encoded once per event, not once per socket.
      send: (data, track) => ws.send(data, { binary: false }, track ? this.flushed : undefined),
      // A corked batch leaves in one write.
      cork: () => socketOf(ws)?.cork(),
      uncork: () => socketOf(ws)?.uncork(),
      drained: () => this.drained(),
      overflow: () => this.close(CLOSE_BACKPRESSURE, 'backpressure: resume with from-event-id'),
    };
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
    this.stream?.close();
    this.policyStream?.close();
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
    }
  }

  /** Outbound state, for tests and metrics. */
  stats(): { remotePort: number | undefined; buffered: number; peakPending: number; open: boolean } {
    return {
      remotePort: this.remotePort,
      buffered: this.ws.bufferedAmount,
      peakPending: this.stream?.peakPending ?? 0,
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
    let cmd: ProtocolCommand;
    try {
      cmd = parseCommand(text);
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

  private onControl(message: string): void {
    const q = message.indexOf('?');
    const name = q < 0 ? message : message.slice(0, q);
    const query = q < 0 ? '' : message.slice(q + 1);
    if (name === 'START-SEND-EVENTS') this.startEvents(query);
    else if (name === 'START-SEND-POLICY-EVENTS') this.startPolicyEvents(query);
    else if (name === 'STOP-SEND-POLICY-EVENTS') {
      this.policyStream?.close();
      this.policyStream = undefined;
      this.send('STOP-SEND-POLICY-EVENTS:ACK');
    } else if (name === 'STOP-SEND-EVENTS') {
      this.stream?.close();
      this.stream = undefined;
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

  private startEvents(query: string): void {
    const params = new URLSearchParams(query);
    const get = (k: string) => params.get(k) ?? undefined;
    let spec;
    let from;
    try {
      spec = parseStreamSpec({
        namespaces: get('namespaces'),
        filter: get('filter'),
        extraFields: get('extraFields'),
      });
      from = parseEventId(get('from-event-id'), 'from-event-id');
    } catch (err) {
      this.sendError(err);
      return;
    }
    this.stream?.close();
    this.send('START-SEND-EVENTS:ACK');
    this.stream = new EventStream(
      this.deps,
      spec,
      this.sink,
      (ev, extra) => (extra ? wireWithExtra(ev, extra) : ev.wireBuffer),
      {
        from,
        access: EventAccess.for(this.principal, this.deps.enforcers),
        skip: (e) => this.isOwn(e),
        onError: (err) => {
          this.deps.logger.error(`event stream failed: ${err instanceof Error ? err.message : String(err)}`);
          this.close(1011, 'event stream failed; resume with from-event-id');
        },
      },
    );
    this.stream.start();
  }

  private startPolicyEvents(query: string): void {
    const params = new URLSearchParams(query);
    let spec;
    let from;
    try {
      spec = {
        ...parseStreamSpec({ namespaces: params.get('namespaces') ?? undefined }),
        entity: 'policy' as const,
      };
      from = parseEventId(params.get('from-event-id') ?? undefined, 'from-event-id');
    } catch (err) {
      this.sendError(err);
      return;
    }
    this.policyStream?.close();
    this.send('START-SEND-POLICY-EVENTS:ACK');
    this.policyStream = new EventStream(this.deps, spec, this.sink, (ev) => ev.wireBuffer, {
      from,
      access: EventAccess.for(this.principal, this.deps.enforcers),
      onError: (err) => {
        this.deps.logger.error(
          `policy event stream failed: ${err instanceof Error ? err.message : String(err)}`,
        );
        this.close(1011, 'policy event stream failed; resume with from-event-id');
      },
    });
    this.policyStream.start();
  }

  private async runCommand(cmd: ProtocolCommand): Promise<void> {
    const refused = await this.deps.rate(this.principal.defaultSubject);
    if (refused) {
      this.send(errorEnvelope(entityOf(cmd), cmd.correlationId, refused));
      return;
    }
    const write = cmd.action !== 'retrieve';
    if (write) this.inFlight.set(cmd.correlationId, (this.inFlight.get(cmd.correlationId) ?? 0) + 1);
    let seq: string | undefined;
    try {
      const result = await this.deps.commands.execute(cmd, this.principal);
      seq = result.seq;
      if (cmd.responseRequired) this.send(responseEnvelope(cmd, result.status, result.value));
    } finally {
      if (write) this.settle(cmd.correlationId, seq);
    }
  }

  private settle(correlationId: string, seq: string | undefined): void {
    const n = (this.inFlight.get(correlationId) ?? 1) - 1;
    if (n > 0) this.inFlight.set(correlationId, n);
    else this.inFlight.delete(correlationId);
    if (seq === undefined || this.earlySeqs.delete(seq) || !this.stream) return;
    this.ownSeqs.add(seq);
    if (this.ownSeqs.size > MAX_OWN) this.ownSeqs.delete(this.ownSeqs.values().next().value!);
  }

  private isOwn(e: JournalEntry): boolean {
    if (this.ownSeqs.delete(e.seq)) return true;
    if (e.origin !== 'ws' || e.correlationId === null || !this.inFlight.has(e.correlationId)) return false;
    this.earlySeqs.add(e.seq);
    if (this.earlySeqs.size > MAX_OWN) this.earlySeqs.delete(this.earlySeqs.values().next().value!);
    return true;
  }

  private sendError(err: unknown, cmd?: ProtocolCommand): void {
    if (err instanceof ProtocolError) {
      this.send(errorEnvelope(err.entity, err.correlationId, err.error));
      return;
    }
    const error = toDomainError(err, (details) => this.deps.logger.error(`command failed: ${details}`));
    this.send(errorEnvelope(cmd ? entityOf(cmd) : '_/_', cmd?.correlationId, error));
  }

  /** Responses and acks obey the same bound as events. */
  private send(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount + Buffer.byteLength(text) > this.deps.limit) {
      this.sink.overflow();
      return;
    }
    this.ws.send(text);
  }

  private readonly flushed = (): void => {
    if (this.drainWaiters.length > 0 && this.ws.bufferedAmount <= this.deps.limit / 4) this.wake();
  };

  private drained(): Promise<void> {
    if (this.ws.bufferedAmount <= this.deps.limit / 4 || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.resolve();
    }
    return new Promise((ok) => this.drainWaiters.push(ok));
  }

  private wake(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private closed(): void {
    this.stream?.close();
    this.stream = undefined;
    this.policyStream?.close();
    this.policyStream = undefined;
    clearTimeout(this.idleTimer);
    this.wake();
  }
}

function entityOf(cmd: ProtocolCommand): string {
  return cmd.topic.split('/').slice(0, 2).join('/');
}
