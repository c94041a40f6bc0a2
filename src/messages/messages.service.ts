import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { enforced, type AuthContext } from '../auth/auth-context.js';
import type { DomainError } from '../common/domain-error.js';
import { Errors } from '../common/errors.js';
import { ConfigService } from '../config/config.service.js';
import { usableOverMqtt } from '../devices/device-topics.js';
import { CheckPermissions } from '../policies/check-permissions.service.js';
import type { PolicyEnforcer } from '../policies/policy-enforcer.js';
import {
  bodySize,
  featureIdProblem,
  messagePath,
  messageResource,
  subjectProblem,
  type MessageAddress,
  type MessageBody,
  type WireMessage,
} from '../protocol/messages.js';
import { isValidThingId } from '../twins/model/thing-id.js';
import { MessageBus } from './message-bus.js';
import { MessageErrors } from './messages.errors.js';
import { PendingAnswers } from './pending-answers.js';

/** Ditto's bounds of the `timeout` of a message: seconds, 10 by default, 60 at most. */
export const DEFAULT_TIMEOUT_SECONDS = 10;
export const MAX_TIMEOUT_SECONDS = 60;
/** Messages waiting to reach this replica's WebSocket listeners; beyond it they are dropped. */
const MAX_FANOUT_BACKLOG = 10_000;

export interface OutgoingMessage extends MessageAddress {
  headers: Record<string, string>;
  body: MessageBody;
  /** Seconds to wait for the answer; 0: none (fire and forget). */
  timeout: number;
  correlationId?: string;
  /** A claim message: sent without a `message:` permission, as Ditto does. */
  claim?: boolean;
}

export type SendResult =
  | { kind: 'accepted'; correlationId: string }
  | { kind: 'answered'; correlationId: string; answer: WireMessage };

/** A message for this replica's WebSocket sessions, with the policy deciding who may read it. */
export type MessageListener = (message: WireMessage, enforcer: PolicyEnforcer) => void;

/**
 * Ditto's live messages: to a thing or feature (`inbox`, answered by the device or a `/ws/2`
 * client), from it (`outbox`), and claim messages. Who may send and receive is decided by the
 * thing's policy on `message:/[features/<id>/](inbox|outbox)/messages/<subject>` (WRITE to send,
 * READ to receive), as in Ditto; a thing the sender cannot see at all is not found.
 */
@Injectable()
export class MessagesService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Messages');
  private readonly pending: PendingAnswers;
  private readonly listeners = new Set<MessageListener>();
  private fanout: Promise<void> = Promise.resolve();
  private backlog = 0;
  private off?: () => void;
  readonly maxPayload: number;

  constructor(
    @Inject(MessageBus) private readonly bus: MessageBus,
    @Inject(CheckPermissions) private readonly permissions: CheckPermissions,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.pending = new PendingAnswers(
      config.get('MESSAGES_MAX_PENDING'),
      config.get('MESSAGES_MAX_PENDING_PER_THING'),
    );
    this.maxPayload = config.get('MESSAGES_MAX_PAYLOAD_BYTES');
  }

  onModuleInit(): void {
    this.off = this.bus.listen((m) => this.take(m));
  }

  onApplicationShutdown(): void {
    this.off?.();
    this.pending.clear();
  }

  /** Requests of this replica waiting for an answer (for tests and metrics). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Checks the address (400), the sender's permission (404/403) and the size (413), then sends. */
  async send(auth: AuthContext, msg: OutgoingMessage): Promise<SendResult> {
    checkAddress(msg);
    const size = bodySize(msg.body);
    if (size > this.maxPayload) throw MessageErrors.payloadTooLarge(size, this.maxPayload);
    await this.authorize(auth, msg, 'WRITE');
    const correlationId = msg.correlationId || randomUUID();
    const wire: WireMessage = {
      correlationId,
      thingId: msg.thingId,
      ...(msg.featureId === undefined ? {} : { featureId: msg.featureId }),
      subject: msg.subject,
      mailbox: msg.mailbox,
      headers: { ...msg.headers, 'correlation-id': correlationId },
      body: msg.body,
      // A message from a thing (outbox) is answered by nobody: fire and forget.
      timeout: msg.mailbox === 'outbox' ? 0 : msg.timeout,
    };
    if (wire.timeout === 0) {
      await this.publish(wire);
      return { kind: 'accepted', correlationId };
    }
    const wait = this.pending.wait(msg.thingId, correlationId, wire.timeout! * 1000);
    if (isError(wait)) throw wait;
    try {
      await this.publish(wire);
    } catch (err) {
      wait.cancel();
      throw err;
    }
    const answer = await wait.answer;
    if (!answer) throw MessageErrors.timeout(wire.timeout!);
    return { kind: 'answered', correlationId, answer };
  }

  /**
   * An answer from a `/ws/2` client to a message it received: published on the message's outbox
   * topic, so whichever replica waits for it gets it. The client must be allowed to receive the
   * message it answers (READ on its inbox resource).
   */
  async answer(auth: AuthContext, answer: WireMessage): Promise<void> {
    checkAddress(answer);
    if (answer.correlationId === undefined) {
      throw MessageErrors.formatInvalid('An answer needs the correlation-id of the message it answers.');
    }
    const size = bodySize(answer.body);
    if (size > this.maxPayload) throw MessageErrors.payloadTooLarge(size, this.maxPayload);
    await this.authorize(auth, { ...answer, mailbox: 'inbox' }, 'READ');
    await this.publish({ ...answer, mailbox: 'outbox' });
  }

  /** This replica's WebSocket sessions that sent START-SEND-MESSAGES. */
  listen(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async publish(wire: WireMessage): Promise<void> {
    if (!(await this.bus.publish(wire))) throw MessageErrors.unavailable();
  }

  private async authorize(
    auth: AuthContext,
    msg: MessageAddress & { claim?: boolean },
    perm: 'READ' | 'WRITE',
  ): Promise<void> {
    const enforcer = await this.permissions.thingEnforcer(msg.thingId);
    if (!enforcer) throw Errors.thingNotFound(msg.thingId);
    const subject = enforced(auth);
    if (!subject || msg.claim) return;
    if (enforcer.hasUnrestricted('message', messageResource(msg), subject.subjects, perm)) return;
    const visible =
      enforcer.hasPartial('thing', [], subject.subjects, 'READ') ||
      enforcer.hasPartial('message', [], subject.subjects, 'READ') ||
      enforcer.hasPartial('message', [], subject.subjects, 'WRITE');
    if (!visible) throw Errors.thingNotFound(msg.thingId);
    throw MessageErrors.sendNotAllowed(msg.thingId, messagePath(msg));
  }

  /**
   * Everything on the message topics: an answer (it has a status) completes the wait of this
   * replica it belongs to, if any, and goes nowhere else; any other message goes to the
   * WebSocket listeners allowed to read it, in arrival order.
   */
  private take(m: WireMessage): void {
    if (m.status !== undefined) {
      this.pending.settle(m);
      return;
    }
    if (this.listeners.size === 0) return;
    if (this.backlog >= MAX_FANOUT_BACKLOG) {
      this.logger.warn('dropped a message for WebSocket listeners: too many are waiting for their policy');
      return;
    }
    this.backlog++;
    const enforcer = this.permissions.thingEnforcer(m.thingId);
    this.fanout = this.fanout
      .then(() => enforcer)
      .then(
        (e) => {
          if (!e) return;
          for (const l of this.listeners) l(m, e);
        },
        (err: unknown) =>
          this.logger.warn(`resolving the policy of ${m.thingId} failed: ${(err as Error).message}`),
      )
      .finally(() => this.backlog--);
  }
}

function checkAddress(a: MessageAddress): void {
  // A thing id with + or # cannot be a topic level (and no device can log in as it).
  if (!isValidThingId(a.thingId) || !usableOverMqtt(a.thingId)) throw Errors.thingIdInvalid(a.thingId);
  const subject = subjectProblem(a.subject);
  if (subject) throw MessageErrors.subjectInvalid(subject);
  const feature = a.featureId === undefined ? undefined : featureIdProblem(a.featureId);
  if (feature) throw MessageErrors.featureIdInvalid(feature);
}

function isError(x: unknown): x is DomainError {
  return x instanceof Error;
}
