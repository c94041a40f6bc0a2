import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { authOf, type AuthContext } from '../auth/auth-context.js';
import { parsePolicyId } from '../twins/model/thing-id.js';
import { sendDittoError } from '../common/ditto-error.filter.js';
import { DomainError, toDomainError } from '../common/domain-error.js';
import { ConfigService } from '../config/config.service.js';
import { JournalFeed } from '../journal/journal-feed.js';
import { thingAddress } from '../twins/http/request-context.js';
import { toPointer } from '../twins/model/json-pointer.js';
import { parseFields } from '../twins/thing-view.js';
import { EventAccess } from './event-access.js';
import { EventStream } from './event-stream.js';
import type { RenderEvent } from './shape-render.js';
import type { StreamSink } from './stream-sink.js';
import { HistoricalStreams, historicalBounds, type EventSource } from './historical-feed.js';
import { PolicyEnforcers } from './policy-enforcers.js';
import { parseEventId, parseStreamSpec, type StreamSpec } from './stream-spec.js';
import { ThingStates } from './thing-states.js';
import { renderPolicySse, renderSse } from './sse-render.js';
import { RealtimeStats } from './realtime-stats.js';

const THINGS = '/api/2/things';
const POLICIES = '/api/2/policies';

/**
 * Ditto's server-sent events: `GET /api/2/things[/{thingId}[/{path}]]` with
 * `Accept: text/event-stream`. Each event's data is the changed part as Thing JSON (or, below a
 * thing, the value at the path), its `id:` the journal seq; a reconnecting EventSource sends it back
 * as `Last-Event-ID` and resumes with no gap. Served by an Express middleware that runs before
 * Nest's routes and handles only event-stream requests, so the JSON routes of the same paths stay
 * with the things controller.
 *
 * `GET /api/2/policies[/{policyId}]` streams policy changes the same way (a platform extension:
 * Ditto has no policy SSE), each as Policy JSON cut to what the subject may read.
 */
@Injectable()
export class SseStreams implements OnModuleDestroy {
  private readonly logger = new Logger('SSE');
  private readonly open = new Set<{ res: Response; stop: () => void }>();

  constructor(
    @Inject(ConfigService) private readonly config: ConfigService,
    @Inject(JournalFeed) private readonly feed: JournalFeed,
    @Inject(ThingStates) private readonly states: ThingStates,
    @Inject(PolicyEnforcers) private readonly enforcers: PolicyEnforcers,
    @Inject(HistoricalStreams) private readonly historical: HistoricalStreams,
    @Inject(RealtimeStats) private readonly realtimeStats: RealtimeStats,
  ) {}

  middleware(): (req: Request, res: Response, next: NextFunction) => void {
    return (req, res, next) => {
      const path = req.path;
      if (req.method !== 'GET' || !acceptsEventStream(req.headers.accept)) return next();
      const policies = path === POLICIES || path === `${POLICIES}/` || isSinglePolicy(path);
      if (!policies && path !== THINGS && path !== `${THINGS}/` && !path.startsWith(`${THINGS}/`))
        return next();
      // Message streams (inbox/outbox) do not exist on this platform: leave them to the 404.
      if (/\/(inbox|outbox)(\/|$)/.test(path)) return next();
      try {
        // Each stream holds a socket and a journal subscription: bounded like WebSockets.
        if (this.open.size >= this.config.get('SSE_MAX_CONNECTIONS')) throw tooManyStreams();
        if (policies) this.policyStream(req, res);
        else this.stream(req, res);
      } catch (err) {
        sendDittoError(
          req,
          res,
          toDomainError(err, (details) => this.logger.error(`SSE failed: ${details}`)),
        );
      }
    };
  }

  get size(): number {
    return this.open.size;
  }

  onModuleDestroy(): void {
    // An open event stream would keep the HTTP server from closing.
    for (const s of [...this.open]) {
      s.stop();
      s.res.end();
    }
  }

  private stream(req: Request, res: Response): void {
    const auth = authenticated(req);
    const query = new URL(req.originalUrl, 'http://x').searchParams;
    const get = (k: string) => query.get(k) ?? undefined;
    const single = req.path.length > THINGS.length + 1 ? thingAddress(req.path) : undefined;
    const pointer = single?.path ?? [];
    const spec = parseStreamSpec({
      namespaces: get('namespaces'),
      filter: get('filter'),
      extraFields: get('extraFields'),
      ids: single ? single.thingId : get('ids'),
    });
    // Below a thing Ditto selects exactly that path.
    const fields = pointer.length > 0 ? parseFields(toPointer(pointer)) : parseFields(get('fields'));
    const from = parseEventId(firstHeader(req.headers['last-event-id']), 'Last-Event-ID');
    const render: RenderEvent = (ev, extra, thing) => renderSse(ev, thing(), fields, pointer, extra);
    const bounds = historicalBounds(query);
    if (bounds) {
      // Ditto streams the history of one thing only.
      if (!single) throw historyNeedsThing();
      this.historicalStream(req, res, single.thingId, bounds, spec, auth, render);
      return;
    }
    // Streams asking alike render alike: their renderings are shared (event-stream.ts).
    const renderKey = JSON.stringify(['sse', pointer, pointer.length > 0 ? null : (get('fields') ?? null)]);
    this.serve(res, spec, from, EventAccess.for(auth, this.enforcers), render, { renderKey });
  }

  /**
   * `from-historical-revision`/`-timestamp` (and optionally `to-historical-…`): the thing's
   * journaled changes over that range, each as its usual event; the stream ends after `to`, or
   * without one continues live. The range is checked before the stream starts, so a thing the
   * subject may not read or a history the journal no longer holds answers with Ditto's error.
   */
  private historicalStream(
    req: Request,
    res: Response,
    thingId: string,
    bounds: Parameters<HistoricalStreams['open']>[1],
    spec: StreamSpec,
    auth: AuthContext,
    render: RenderEvent,
  ): void {
    this.historical
      .open(thingId, bounds, auth, this.feed, () => res.end())
      .then((source) =>
        this.serve(res, spec, undefined, EventAccess.for(auth, this.enforcers), render, { source }),
      )
      .catch((err: unknown) =>
        sendDittoError(
          req,
          res,
          toDomainError(err, (details) => this.logger.error(`SSE history failed: ${details}`)),
        ),
      );
  }

  private policyStream(req: Request, res: Response): void {
    const auth = authenticated(req);
    const query = new URL(req.originalUrl, 'http://x').searchParams;
    const single = isSinglePolicy(req.path)
      ? decodeURIComponent(req.path.slice(POLICIES.length + 1))
      : undefined;
    const spec: StreamSpec = {
      ...parseStreamSpec(
        { namespaces: query.get('namespaces') ?? undefined, ids: single ?? query.get('ids') ?? undefined },
        parsePolicyId,
      ),
      entity: 'policy',
    };
    const from = parseEventId(firstHeader(req.headers['last-event-id']), 'Last-Event-ID');
    this.serve(
      res,
      spec,
      from,
      EventAccess.for(auth, this.enforcers),
      (ev, _extra, policy) => renderPolicySse(ev, policy()),
      { renderKey: 'sse-policy' },
    );
  }

  private serve(
    res: Response,
    spec: StreamSpec,
    from: string | undefined,
    access: EventAccess | undefined,
    render: RenderEvent,
    { source = this.feed, renderKey }: { source?: EventSource; renderKey?: string } = {},
  ): void {
    // The client went away while a historical range was being checked.
    if (res.destroyed) return;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();

    const heartbeatMs = this.config.get('SSE_HEARTBEAT_MS');
    let lastWrite = Date.now();
    let overflowed = false;
    const sink: StreamSink = {
      get buffered() {
        return res.writableLength;
      },
      send: (data) => {
        lastWrite = Date.now();
        res.write(data);
      },
      cork: () => res.cork(),
      uncork: () => res.uncork(),
      drained: () =>
        res.writableLength === 0 || res.destroyed
          ? Promise.resolve()
          : new Promise((ok) => {
              res.once('drain', ok);
              res.once('close', ok);
            }),
      // No close code in SSE: drop the connection; EventSource reconnects with Last-Event-ID.
      overflow: () => {
        overflowed = true;
        res.destroy();
      },
      delivered: (n) => (this.realtimeStats.sseDelivered += n),
      // SSE messages delimit themselves: a batch's messages, concatenated, go out in one write.
      framing: {
        key: 'sse',
        frame: (payloads) => Buffer.concat(payloads),
        sendFramed: (bytes) => {
          lastWrite = Date.now();
          res.write(bytes);
          return true;
        },
      },
    };
    const stream = new EventStream(
      {
        feed: source,
        states: this.states,
        enforcers: this.enforcers,
        limit: this.config.get('WS_BUFFER_MAX_BYTES'),
      },
      spec,
      sink,
      render,
      { from, access, renderKey, onError: () => res.destroy() },
    );
    const heartbeat = setInterval(() => {
      // Ditto's keep-alive: an empty line whenever nothing was sent for a while.
      if (Date.now() - lastWrite >= heartbeatMs && !res.destroyed) sink.send('\n', false);
    }, heartbeatMs);
    heartbeat.unref();
    const entry = {
      res,
      stop: () => {
        clearInterval(heartbeat);
        stream.close();
      },
    };
    this.open.add(entry);
    res.once('close', () => {
      entry.stop();
      this.open.delete(entry);
      if (overflowed) this.realtimeStats.sseOverflows++;
      else this.realtimeStats.sseClosed++;
    });
    stream.start();
  }
}

function isSinglePolicy(path: string): boolean {
  const rest = path.startsWith(`${POLICIES}/`) ? path.slice(POLICIES.length + 1) : '';
  return rest.length > 0 && !rest.includes('/');
}

function authenticated(req: Request): AuthContext {
  const auth = authOf(req);
  // The authentication middleware runs first and refuses anonymous requests; fail closed anyway.
  if (!auth)
    throw new DomainError(401, 'gateway:authentication.failed', 'Unauthorized.', 'Authenticate first.');
  return auth;
}

function acceptsEventStream(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => range.split(';')[0].trim().toLowerCase() === 'text/event-stream');
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function historyNeedsThing(): DomainError {
  return new DomainError(
    400,
    'gateway:request.invalid',
    'Historical events can only be streamed for a single thing.',
    'Use GET /api/2/things/{thingId} with from-historical-revision or from-historical-timestamp.',
  );
}

function tooManyStreams(): DomainError {
  return new DomainError(
    503,
    'gateway:service.unavailable',
    'Too many open event streams.',
    'Try again later; SSE_MAX_CONNECTIONS bounds the streams one instance serves.',
    { 'Retry-After': '1' },
  );
}
