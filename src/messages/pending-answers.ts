import type { DomainError } from '../common/domain-error.js';
import type { WireMessage } from '../protocol/messages.js';
import { MessageErrors } from './messages.errors.js';

interface Pending {
  thingId: string;
  done: (answer: WireMessage | undefined) => void;
  timer: NodeJS.Timeout;
}

/** A registered wait: `answer` resolves with the answer, or undefined when the time ran out. */
export interface AnswerWait {
  answer: Promise<WireMessage | undefined>;
  cancel(): void;
}

/**
 * The messages of this replica that wait for an answer, by correlation id, bounded in all and
 * per thing (beyond either bound a message is refused 429, never queued). The first answer whose
 * correlation id and thing match completes the wait; later ones find nothing and are dropped.
 */
export class PendingAnswers {
  private readonly byId = new Map<string, Pending>();
  private readonly perThing = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerThing: number,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  wait(thingId: string, correlationId: string, timeoutMs: number): AnswerWait | DomainError {
    if (this.byId.has(correlationId)) return MessageErrors.duplicateCorrelationId(correlationId);
    const n = this.perThing.get(thingId) ?? 0;
    if (n >= this.maxPerThing || this.byId.size >= this.maxTotal)
      return MessageErrors.tooManyPending(thingId);
    let resolve!: (a: WireMessage | undefined) => void;
    const answer = new Promise<WireMessage | undefined>((ok) => (resolve = ok));
    const finish = (a: WireMessage | undefined): void => {
      const p = this.byId.get(correlationId);
      if (!p || p.done !== finish) return;
      clearTimeout(p.timer);
      this.byId.delete(correlationId);
      const left = (this.perThing.get(thingId) ?? 1) - 1;
      if (left > 0) this.perThing.set(thingId, left);
      else this.perThing.delete(thingId);
      resolve(a);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    timer.unref();
    this.byId.set(correlationId, { thingId, done: finish, timer });
    this.perThing.set(thingId, n + 1);
    return { answer, cancel: () => finish(undefined) };
  }

  /** Completes the wait the answer belongs to; false when none here does. */
  settle(answer: WireMessage): boolean {
    if (answer.correlationId === undefined) return false;
    const p = this.byId.get(answer.correlationId);
    if (!p || p.thingId !== answer.thingId) return false;
    p.done(answer);
    return true;
  }

  /** Ends every wait (shutdown): their callers get the timeout answer. */
  clear(): void {
    for (const p of [...this.byId.values()]) p.done(undefined);
  }
}
