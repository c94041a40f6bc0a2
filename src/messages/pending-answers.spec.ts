import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import type { WireMessage } from '../protocol/messages.js';
import { PendingAnswers } from './pending-answers.js';

const answer = (thingId: string, correlationId: string): WireMessage => ({
  thingId,
  subject: 's',
  mailbox: 'outbox',
  headers: {},
  body: { kind: 'none' },
  correlationId,
  status: 200,
});

describe('PendingAnswers', () => {
  it('completes a wait with the answer of its correlation id and thing only', async () => {
    const p = new PendingAnswers(10, 10);
    const w = p.wait('ns:a', 'c1', 60_000);
    if (w instanceof DomainError) throw w;
    expect(p.settle(answer('ns:b', 'c1'))).toBe(false);
    expect(p.settle(answer('ns:a', 'c2'))).toBe(false);
    expect(p.settle(answer('ns:a', 'c1'))).toBe(true);
    expect((await w.answer)?.correlationId).toBe('c1');
    expect(p.size).toBe(0);
    expect(p.settle(answer('ns:a', 'c1'))).toBe(false);
  });

  it('bounds waits per thing and in all, and refuses a correlation id already waiting', () => {
    const p = new PendingAnswers(3, 2);
    const ok = [p.wait('ns:a', '1', 60_000), p.wait('ns:a', '2', 60_000)];
    expect(ok.every((w) => !(w instanceof DomainError))).toBe(true);
    expect(p.wait('ns:a', '3', 60_000)).toMatchObject({ status: 429 });
    expect(p.wait('ns:b', '1', 60_000)).toMatchObject({ status: 409 });
    expect(p.wait('ns:b', '4', 60_000)).not.toBeInstanceOf(DomainError);
    expect(p.wait('ns:c', '5', 60_000)).toMatchObject({ status: 429 });
    p.clear();
    expect(p.size).toBe(0);
    expect(p.wait('ns:a', '6', 60_000)).not.toBeInstanceOf(DomainError);
    p.clear();
  });

  it('ends a wait without an answer when its time runs out', async () => {
    const p = new PendingAnswers(10, 10);
    const w = p.wait('ns:a', 'c', 1);
    if (w instanceof DomainError) throw w;
    expect(await w.answer).toBeUndefined();
    expect(p.size).toBe(0);
  });
});
