import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { asReadBack, JournalRepository } from '../../src/journal/journal.repository.js';
import { JournalService } from '../../src/journal/journal.service.js';
import type { NewJournalEntry } from '../../src/journal/journal.types.js';
import { TransactionRunner } from '../../src/persistence/transaction.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * The journal keeps each entry's value and leaf times exactly as the write path made them, whatever
 * JSON they are: every consumer (realtime, history, Ditto sync, desired state) reads them back.
 */
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

function entry(n: number, value: unknown, leafTimes?: Record<string, string>): NewJournalEntry {
  return {
    thingId: 'org.journal:t',
    policyId: 'org.journal:t',
    revision: n,
    action: n === 1 ? 'created' : 'modified',
    path: n === 1 ? '/' : '/attributes/v',
    value,
    ...(leafTimes ? { leafTimes } : {}),
    timestamp: `2026-12-07T10:00:0${n}.000Z`,
    origin: 'system',
    correlationId: `c-${n}`,
  };
}

describe('journal append', () => {
  it('reads back every value as written: JSON null, text, exact numbers, nested objects, and leaf times', async () => {
    const written = [
      entry(
        1,
        { thingId: 'org.journal:t', policyId: 'org.journal:t', attributes: { ü: 'ñ\u2028' } },
        {
          '/attributes/ü': '2026-12-07T09:59:59.999Z',
        },
      ),
      entry(2, null),
      entry(3, undefined),
      entry(4, 'text with "quotes" and \\ backslash'),
      entry(5, 12345678901234567890.5),
      entry(6, [1, { a: [true, false, null] }, []]),
      entry(7, { deep: { er: { est: 0.1 } } }, { '/attributes/v/deep/er/est': '2026-12-07T10:00:07.000Z' }),
    ];
    const before = await t.app.get(JournalService).headSeq();
    const appended = await t.app
      .get(TransactionRunner)
      .run((tx) => t.app.get(JournalRepository).append(tx, written));
    expect(appended.map((e) => e.revision)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const read = await t.app.get(JournalService).readAfter(before);
    expect(read.map(({ seq: _seq, ...rest }) => rest)).toEqual(
      written.map((e) => {
        const { value, leafTimes, ...rest } = e;
        // An entry without a value (a deletion's) reads back with null; no leaf times, none.
        return { ...rest, value: value ?? null, ...(leafTimes ? { leafTimes } : {}) };
      }),
    );
    expect(read.map((e) => e.seq)).toEqual(appended.map((e) => e.seq));
    // What the feed hands on for this process's own commits, without reading the rows.
    expect(appended.map(asReadBack)).toStrictEqual(read);
  });
});
