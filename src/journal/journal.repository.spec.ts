import { describe, expect, it } from '@jest/globals';
import { asReadBack } from './journal.repository.js';
import type { JournalEntry } from './journal.types.js';

const appended: JournalEntry = {
  seq: '42',
  thingId: 'ns:t',
  policyId: 'ns:p',
  revision: 7,
  action: 'merged',
  path: '/attributes',
  value: { n: 1, gone: undefined, list: [1, undefined, 'x'], nested: { ok: true } },
  leafTimes: { '/attributes/n': '2026-12-07T10:00:00.000Z' },
  timestamp: '2026-12-07T10:00:00.123Z',
  origin: 'rest',
  correlationId: 'c-1',
};

describe('asReadBack: an appended entry as a read of its row gives it', () => {
  it('keeps what the row keeps, and the value as JSON holds it', () => {
    expect(asReadBack(appended)).toStrictEqual({
      seq: '42',
      thingId: 'ns:t',
      policyId: 'ns:p',
      revision: 7,
      action: 'merged',
      path: '/attributes',
      value: { n: 1, list: [1, null, 'x'], nested: { ok: true } },
      leafTimes: { '/attributes/n': '2026-12-07T10:00:00.000Z' },
      timestamp: '2026-12-07T10:00:00.123Z',
      origin: 'rest',
      correlationId: 'c-1',
    });
  });

  it('hands on copies: a consumer changing its value does not change the writer’s state', () => {
    const read = asReadBack(appended);
    (read.value as { nested: { ok: boolean } }).nested.ok = false;
    expect((appended.value as { nested: { ok: boolean } }).nested.ok).toBe(true);
  });

  it('leaves out what the row holds as NULL, and keeps a JSON null', () => {
    const bare = asReadBack({
      ...appended,
      policyId: undefined,
      leafTimes: undefined,
      value: undefined,
      correlationId: null,
    });
    expect(bare).not.toHaveProperty('policyId');
    expect(bare).not.toHaveProperty('leafTimes');
    expect(bare.value).toBeNull();
    expect(bare.correlationId).toBeNull();
    expect(asReadBack({ ...appended, value: null }).value).toBeNull();
  });

  it('marks policy entries as the read does, and gives times in UTC with milliseconds', () => {
    const policy = asReadBack({ ...appended, entity: 'policy', timestamp: '2026-12-07T11:00:00+01:00' });
    expect(policy.entity).toBe('policy');
    expect(policy.timestamp).toBe('2026-12-07T10:00:00.000Z');
    expect(asReadBack({ ...appended, timestamp: '2026-12-07T10:00:00Z' }).timestamp).toBe(
      '2026-12-07T10:00:00.000Z',
    );
  });
});
