import type { Logger } from '@nestjs/common';
import { enforced } from '../auth/auth-context.js';
import { DomainError, toDomainError } from '../common/domain-error.js';
import type { MessagesService } from '../messages/messages.service.js';
import { DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS } from '../messages/messages.service.js';
import {
  messageEnvelope,
  messageResource,
  parseMessageEnvelope,
  type WireMessage,
} from '../protocol/messages.js';
import { errorEnvelope, tooManyRequests } from '../protocol/twin-commands.js';
import { isJsonObject } from '../twins/model/json-pointer.js';
import { matchesMessageFilter } from './event-filter.js';
import { parseStreamSpec } from './stream-spec.js';
import type { WsPrincipal } from './ws-authenticator.js';

export interface LiveMessageDeps {
  /** Live messages: START-SEND-MESSAGES listeners, messages and answers the client sends. */
  messages: MessagesService;
  /** The subject's request budget (RATE_LIMIT_PER_SECOND): undefined to go on, else the 429. */
  rate: (subject: string) => Promise<DomainError | undefined>;
  logger: Logger;
}

/** The live messages of one `/ws/2` session (README ## Messages). */
export class LiveMessages {
  /** START-SEND-MESSAGES: stops the delivery of live messages. */
  private messagesOff?: () => void;
  /** Live messages the client sent that wait for their answer (bounded as queued commands). */
  private liveRunning = 0;

  constructor(
    private readonly deps: LiveMessageDeps,
    private readonly principal: WsPrincipal,
    /** Writes one frame, within the session's outbound limit. */
    private readonly send: (text: string) => void,
    /** Answers a control message the session could not accept. */
    private readonly sendError: (err: unknown) => void,
    private readonly maxRunning: number,
  ) {}

  /**
   * Live messages to and from things (inbox and outbox, not answers) whose policy lets the
   * principal READ `message:/…/<mailbox>/messages/<subject>`, optionally only of `namespaces` and
   * those passing `filter` (RQL over the message: see matchesMessageFilter).
   */
  start(query: string): void {
    const params = new URLSearchParams(query);
    let spec;
    try {
      spec = parseStreamSpec({
        namespaces: params.get('namespaces') ?? undefined,
        filter: params.get('filter') ?? undefined,
      });
    } catch (err) {
      this.sendError(err);
      return;
    }
    const { namespaces, filter } = spec;
    const subject = enforced(this.principal);
    this.messagesOff?.();
    this.send('START-SEND-MESSAGES:ACK');
    this.messagesOff = this.deps.messages.listen((m, enforcer) => {
      if (namespaces && !namespaces.has(m.thingId.slice(0, m.thingId.indexOf(':')))) return;
      if (subject && !enforcer.hasUnrestricted('message', messageResource(m), subject.subjects, 'READ'))
        return;
      if (filter && !matchesMessageFilter(filter, m)) return;
      this.send(JSON.stringify(messageEnvelope(m)));
    });
  }

  stop(): void {
    this.messagesOff?.();
    this.messagesOff = undefined;
  }

  /** A live message envelope from the client: a message to send, or (with a status) an answer. */
  onMessage(envelope: Record<string, unknown> & { topic: string }): void {
    const entity = envelope.topic.split('/').slice(0, 2).join('/');
    const parsed = parseMessageEnvelope(envelope);
    if ('problem' in parsed) {
      const correlationId = isJsonObject(envelope.headers) ? envelope.headers['correlation-id'] : undefined;
      this.send(
        errorEnvelope(
          entity,
          typeof correlationId === 'string' ? correlationId : undefined,
          new DomainError(400, 'messages:messageformat.invalid', parsed.problem),
          'live',
        ),
      );
      return;
    }
    if (this.liveRunning >= this.maxRunning) {
      this.send(errorEnvelope(entity, parsed.correlationId, tooManyRequests(parsed.thingId), 'live'));
      return;
    }
    this.liveRunning++;
    void this.runLive(entity, parsed).finally(() => this.liveRunning--);
  }

  /** Sends the client's message (answering it with the answer) or publishes its answer. */
  private async runLive(entity: string, m: WireMessage): Promise<void> {
    try {
      const refused = await this.deps.rate(this.principal.defaultSubject);
      if (refused) throw refused;
      if (m.status !== undefined) {
        await this.deps.messages.answer(this.principal, m);
        return;
      }
      const timeout = Math.min(m.timeout ?? DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS);
      const result = await this.deps.messages.send(this.principal, { ...m, timeout });
      if (result.kind !== 'answered') return;
      const answer = result.answer;
      this.send(
        JSON.stringify(
          messageEnvelope({
            ...answer,
            mailbox: m.mailbox,
            headers: { ...answer.headers, 'correlation-id': result.correlationId },
          }),
        ),
      );
    } catch (err) {
      const error = toDomainError(err, (details) => this.deps.logger.error(`message failed: ${details}`));
      this.send(errorEnvelope(entity, m.correlationId, error, 'live'));
    }
  }
}
