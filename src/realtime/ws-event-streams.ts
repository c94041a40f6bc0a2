import type { Logger } from '@nestjs/common';
import type { JournalEntry } from '../journal/journal.types.js';
import { EventAccess } from './event-access.js';
import { EventStream, type StreamDeps } from './event-stream.js';
import type { StreamSink } from './stream-sink.js';
import { parseEventId, parseStreamSpec } from './stream-spec.js';
import { wireWithExtra } from './twin-event.js';
import type { WsPrincipal } from './ws-authenticator.js';

/** A `/ws/2` session's event streams: START-SEND-EVENTS and START-SEND-POLICY-EVENTS. */
export class WsEventStreams {
  private stream?: EventStream;
  /** START-SEND-POLICY-EVENTS: changes of policies the principal may read (a platform extension). */
  private policyStream?: EventStream;

  constructor(
    private readonly deps: StreamDeps & { logger: Logger },
    private readonly principal: WsPrincipal,
    private readonly sink: StreamSink,
    /** Writes one frame, within the session's outbound limit. */
    private readonly send: (text: string) => void,
    /** Answers a control message the session could not accept. */
    private readonly sendError: (err: unknown) => void,
    /** Closes the connection: a stream that failed cannot go on where it stopped. */
    private readonly closeSession: (code: number, reason: string) => void,
    /** The events of the session's own commands, which it does not get. */
    private readonly isOwn: (e: JournalEntry) => boolean,
  ) {}

  /** Whether thing events flow (own changes are remembered only then). */
  get streaming(): boolean {
    return this.stream !== undefined;
  }

  get peakPending(): number {
    return this.stream?.peakPending ?? 0;
  }

  startEvents(query: string): void {
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
        skip: this.isOwn,
        renderKey: 'ws-events',
        onError: (err) => {
          this.deps.logger.error(`event stream failed: ${err instanceof Error ? err.message : String(err)}`);
          this.closeSession(1011, 'event stream failed; resume with from-event-id');
        },
      },
    );
    this.stream.start();
  }

  startPolicyEvents(query: string): void {
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
      renderKey: 'ws-policy-events',
      access: EventAccess.for(this.principal, this.deps.enforcers),
      onError: (err) => {
        this.deps.logger.error(
          `policy event stream failed: ${err instanceof Error ? err.message : String(err)}`,
        );
        this.closeSession(1011, 'policy event stream failed; resume with from-event-id');
      },
    });
    this.policyStream.start();
  }

  stopEvents(): void {
    this.stream?.close();
    this.stream = undefined;
  }

  stopPolicyEvents(): void {
    this.policyStream?.close();
    this.policyStream = undefined;
  }

  /** On close(): the streams stop, but stay (stats() reads them) until the socket has closed. */
  closeAll(): void {
    this.stream?.close();
    this.policyStream?.close();
  }

  end(): void {
    this.stopEvents();
    this.stopPolicyEvents();
  }
}
