import type { AuthContext } from '../auth/auth-context.js';
import { isJsonObject } from '../twins/model/json-pointer.js';
import { parseThingId } from '../twins/model/thing-id.js';
import { Subscription, type PersistedEventsDeps } from './ws-persisted-subscription.js';
import {
  Envelopes,
  notFound,
  parsePersistedOptions,
  protocolError,
  STREAMING_ACTIONS,
  unknownTopic,
  type PersistedOptions,
  type StreamingCommand,
} from './ws-streaming-protocol.js';

/**
 * Ditto's streaming subscription protocol over `/ws/2` (history of a thing, Ditto 3.2+):
 * `<ns>/<name>/things/twin/streaming/subscribeForPersistedEvents` answers `created` with a
 * subscription id; `request` gives demand, answered by that many `next` events at most (each
 * carrying one journaled change as its Ditto Protocol event), then `complete` — or `failed` with
 * Ditto's error. `cancel` stops a subscription without an answer. No `complete`/`failed` comes
 * before the first `request`, as Ditto guarantees. Events are delivered and cut by the thing's
 * policy exactly as live events are.
 */

/** Subscriptions one session may have open at once. */
export const MAX_SUBSCRIPTIONS = 16;

/** The streaming subscriptions of one `/ws/2` session. */
export class PersistedEventSubscriptions {
  private readonly subs = new Map<string, Subscription>();
  private counter = 0;

  constructor(
    private readonly deps: PersistedEventsDeps,
    private readonly auth: AuthContext,
    /** Writes one frame, within the session's outbound limit. */
    private readonly send: (text: string) => void,
  ) {}

  handle(cmd: StreamingCommand): void {
    const entity = `${cmd.namespace}/${cmd.name}/things/twin/streaming`;
    const envelope = new Envelopes(entity, cmd.correlationId);
    if (!STREAMING_ACTIONS.includes(cmd.action) || !cmd.topic.includes('/things/twin/streaming/')) {
      this.send(envelope.error(unknownTopic(cmd.topic)));
      return;
    }
    if (cmd.action === 'subscribeForPersistedEvents') {
      this.subscribe(cmd, envelope);
      return;
    }
    const value = isJsonObject(cmd.value) ? cmd.value : {};
    const id = typeof value.subscriptionId === 'string' ? value.subscriptionId : '';
    const sub = this.subs.get(id);
    if (!sub) {
      this.send(envelope.failed(id, notFound(id)));
      return;
    }
    if (cmd.action === 'cancel') {
      sub.stop();
      return;
    }
    const demand = value.demand;
    if (typeof demand !== 'number' || !Number.isInteger(demand) || demand <= 0) {
      // Reactive streams rule 3.9: a non-positive request ends the subscription with an error.
      sub.refuse(protocolError(`The demand '${String(demand)}' is not a positive integer.`));
      return;
    }
    sub.request(demand);
  }

  close(): void {
    for (const sub of [...this.subs.values()]) sub.stop();
  }

  get size(): number {
    return this.subs.size;
  }

  private subscribe(cmd: StreamingCommand, envelope: Envelopes): void {
    const id = String(this.counter++);
    const sub = new Subscription(id, envelope, this.send, this.auth, this.deps, () => this.subs.delete(id));
    this.subs.set(id, sub);
    this.send(envelope.event('created', { subscriptionId: id }));
    let thingId: string;
    let options: PersistedOptions;
    try {
      if (this.subs.size > MAX_SUBSCRIPTIONS) {
        throw protocolError(
          `At most ${MAX_SUBSCRIPTIONS} streaming subscriptions may be open on one connection.`,
        );
      }
      thingId = `${cmd.namespace}:${cmd.name}`;
      parseThingId(thingId);
      options = parsePersistedOptions(cmd.value);
    } catch (err) {
      sub.fail(err);
      return;
    }
    // Each subscription reads the journal: it counts against the subject's request budget.
    this.deps.rate().then(
      (refused) => (refused ? sub.fail(refused) : sub.start(thingId, options)),
      (err: unknown) => sub.fail(err),
    );
  }
}
