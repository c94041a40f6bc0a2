import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import { startInstance, until, type Instance } from '../e2e/realtime.support.js';
import { createTestDatabase } from '../support/database.js';
import type { TwinCommand } from '../../src/twins/twin.types.js';
import { TwinsService } from '../../src/twins/twins.service.js';
import { FEED_APPLICATION_NAME, JournalFeed, seqAfter } from '../../src/journal/journal-feed.js';
import { JournalService } from '../../src/journal/journal.service.js';
import { TransactionRunner } from '../../src/persistence/transaction.js';
import type { JournalEntry } from '../../src/journal/journal.types.js';

/** The journal feed against real PostgreSQL: two instances on one database, as two replicas. */
let database: { url: string; drop: () => Promise<void> };
let a: Instance;
let b: Instance;
let admin: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  a = await startInstance(database.url);
  b = await startInstance(database.url);
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
});
afterAll(async () => {
  await admin.end();
  await a.close();
  await b.close();
  await database.drop();
});

function modify(thingId: string, n: number): TwinCommand {
  return { type: 'modify', thingId, path: ['attributes', 'n'], value: n, origin: 'system' };
}

async function write(instance: Instance, ns: string, batches: number, perBatch: number): Promise<void> {
  const twins = instance.app.get(TwinsService);
  await twins.applyMany(
    Array.from({ length: perBatch }, (_, i) => ({ ...modify(`${ns}:t${i}`, 0), path: [], value: {} })),
  );
  for (let n = 1; n <= batches; n++) {
    await twins.applyMany(Array.from({ length: perBatch }, (_, i) => modify(`${ns}:t${i}`, n)));
  }
}

function expectGapFreeFrom(entries: JournalEntry[], all: JournalEntry[]): void {
  const seqs = entries.map((e) => e.seq);
  expect(new Set(seqs).size).toBe(seqs.length);
  for (let i = 1; i < seqs.length; i++) expect(seqAfter(seqs[i], seqs[i - 1])).toBe(true);
  expect(seqs).toEqual(all.map((e) => e.seq));
}

describe('JournalFeed', () => {
  it('seqAfter compares decimal seqs numerically', () => {
    expect(seqAfter('10', '9')).toBe(true);
    expect(seqAfter('9', '10')).toBe(false);
    expect(seqAfter('10', '10')).toBe(false);
  });

  it('delivers changes committed by either replica, in seq order, from the head on', async () => {
    const feed = a.app.get(JournalFeed);
    const got: JournalEntry[] = [];
    const sub = feed.subscribe(
      (entries) => void got.push(...entries.filter((e) => e.thingId.startsWith('feed.live:'))),
    );
    await write(a, 'feed.live', 5, 10);
    await write(b, 'feed.live', 5, 10);
    await until('120 entries', () => got.length >= 120);
    const journal = (
      await admin.query<{ seq: string }>(
        `SELECT seq FROM journal WHERE thing_id LIKE 'feed.live:%' ORDER BY seq`,
      )
    ).rows;
    expectGapFreeFrom(got, journal as JournalEntry[]);
    sub.close();
  });

  it('replays from a seq and switches to live with no gap and no duplicate, while writes go on', async () => {
    const feed = a.app.get(JournalFeed);
    const start = feed.head;
    await write(b, 'feed.replay', 20, 10);
    const got: JournalEntry[] = [];
    let pages = 0;
    // A slow consumer: the replay waits for it, so the switch-over happens while B still writes.
    const sub = feed.subscribe(
      async (entries) => {
        got.push(...entries.filter((e) => e.thingId.startsWith('feed.replay:')));
        if (!sub.live) pages++;
        await new Promise((ok) => setTimeout(ok, 5));
      },
      { from: start },
    );
    await Promise.all([write(b, 'feed.replay', 30, 10), write(a, 'feed.replay', 30, 10)]);
    await until('every entry', () => got.length >= 210 + 310 + 310);
    // The switch comes once the consumer has finished with the last page it was given.
    await until('the switch to live', () => sub.live);
    expect(pages).toBeGreaterThan(0);
    const journal = (
      await admin.query<{ seq: string }>(
        `SELECT seq FROM journal WHERE thing_id LIKE 'feed.replay:%' ORDER BY seq`,
      )
    ).rows;
    expectGapFreeFrom(got, journal as JournalEntry[]);
    sub.close();
  });

  it('reconnects its LISTEN connection and catches up with what it missed', async () => {
    const feed = a.app.get(JournalFeed);
    const listener = async () =>
      (
        await admin.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
          [FEED_APPLICATION_NAME],
        )
      ).rows.map((r) => r.pid);
    const before = await listener();
    expect(before).toHaveLength(2); // one per instance
    const got: JournalEntry[] = [];
    const sub = feed.subscribe(
      (entries) => void got.push(...entries.filter((e) => e.thingId.startsWith('feed.lost:'))),
    );
    // Kill A's listening connection (B's bus never reaches A: only NOTIFY and the journal can).
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
      [FEED_APPLICATION_NAME],
    );
    await write(b, 'feed.lost', 1, 5);
    await until('both feeds to listen again', async () => feed.listening && (await listener()).length === 2);
    expect((await listener()).some((pid) => before.includes(pid))).toBe(false);
    await until('the change made while A was deaf', () => got.length >= 10);
    await write(b, 'feed.lost', 1, 5);
    await until('a change after the reconnect', () => got.length >= 20);
    expect(got.map((e) => e.revision)).toEqual([
      ...Array(5).fill(1),
      ...Array(5).fill(2),
      ...Array(5).fill(3),
      ...Array(5).fill(4),
    ]);
    sub.close();
  });

  // The desired-state publisher is a subscriber of every app (it publishes from the durable
  // feed), so an app's feed always reads; what a client subscribing later gets is what matters.
  it('keeps its place at the head; a new subscriber starts there, not at the beginning', async () => {
    const feed = a.app.get(JournalFeed);
    const journal = a.app.get(JournalService);
    const reads = jest.spyOn(journal, 'readAfter');
    try {
      await write(a, 'feed.idle', 3, 10);
      await write(b, 'feed.idle', 3, 10);
      const head = (await admin.query<{ seq: string }>('SELECT max(seq)::text AS seq FROM journal')).rows[0]
        .seq;
      await until('the head of both replicas', () => feed.head === head);
      const got: JournalEntry[] = [];
      const sub = feed.subscribe((entries) => void got.push(...entries));
      await write(b, 'feed.idle', 1, 10);
      // write() puts each thing, then modifies it: revisions 9 and 10 after the 8 before subscribing.
      await until('the changes after subscribing', () => got.length >= 20);
      expect(got.map((e) => e.revision)).toEqual([...Array(10).fill(9), ...Array(10).fill(10)]);
      sub.close();
    } finally {
      reads.mockRestore();
    }
  });

  it('a new subscriber does not get a change acknowledged before it subscribed, though the feed still reads it', async () => {
    const feed = a.app.get(JournalFeed);
    const journal = a.app.get(JournalService);
    const early: JournalEntry[] = [];
    const earlySub = feed.subscribe(
      (entries) => void early.push(...entries.filter((e) => e.thingId.startsWith('feed.acked:'))),
    );
    // Hold the feed's reads, as a loaded database would, until the late subscriber is in.
    let release!: () => void;
    const held = new Promise<void>((ok) => (release = ok));
    const read = journal.readAfter.bind(journal);
    const reads = jest.spyOn(journal, 'readAfter').mockImplementation(async (...args) => {
      await held;
      return read(...args);
    });
    try {
      // A seq drawn and never committed (as by a rolled-back append): this replica's next commit
      // does not follow the feed's last seq, so the feed has to read it and not take it off the bus.
      await admin.query(`SELECT nextval('journal_seq')`);
      await write(a, 'feed.acked', 0, 3);
      const late: JournalEntry[] = [];
      const lateSub = feed.subscribe(
        (entries) => void late.push(...entries.filter((e) => e.thingId.startsWith('feed.acked:'))),
      );
      release();
      await until('the first subscriber sees the three creations', () => early.length >= 3);
      await a.app.get(TwinsService).applyMany([modify('feed.acked:t0', 1)]);
      await until('both see the change made after', () => early.length >= 4 && late.length >= 1);
      expect(late.map((e) => [e.thingId, e.revision])).toEqual([['feed.acked:t0', 2]]);
      lateSub.close();
    } finally {
      release();
      reads.mockRestore();
      earlySub.close();
    }
  });

  it("hands this replica's own commits on without reading them back, as a replay reads them", async () => {
    const feed = a.app.get(JournalFeed);
    const journal = a.app.get(JournalService);
    const head = (await admin.query<{ seq: string }>('SELECT max(seq)::text AS seq FROM journal')).rows[0]
      .seq;
    await until('the feed at the head', () => feed.head === head);
    const start = feed.head;
    const live: JournalEntry[] = [];
    const sub = feed.subscribe((entries) => void live.push(...entries));
    const reads = jest.spyOn(journal, 'readAfter');
    try {
      const twins = a.app.get(TwinsService);
      await twins.applyMany([
        { type: 'modify', thingId: 'feed.own:t', path: [], value: {}, origin: 'system' },
      ]);
      // Values of every kind, and members the wire drops (undefined), as a client's merge may hold.
      for (let n = 1; n <= 20; n++)
        await twins.applyMany([
          {
            type: 'merge',
            thingId: 'feed.own:t',
            path: ['attributes'],
            value: { n, s: `v${n}`, nested: { ok: n % 2 === 0, list: [n, null, 'x'] }, gone: null },
            origin: 'system',
          },
        ]);
      await until('every change', () => live.length >= 21);
      // Each commit was handed on from the bus: the journal was not read for any of them.
      expect(reads).not.toHaveBeenCalled();
      reads.mockRestore();
      const replayed = await journal.readAfter(start, 100);
      expect(live).toEqual(replayed);
      expect(live.map((e) => e.revision)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    } finally {
      reads.mockRestore();
      sub.close();
    }
  });

  it('still delivers a commit of its own whose entries never reached the bus, reading it after a grace', async () => {
    const feed = a.app.get(JournalFeed);
    const journal = a.app.get(JournalService);
    const got: JournalEntry[] = [];
    const sub = feed.subscribe(
      (entries) => void got.push(...entries.filter((e) => e.thingId === 'feed.lost:t')),
    );
    try {
      // Appended and committed by this process, but not through the twin write path, which is what
      // hands entries to the bus: as when the commit's answer is lost with its connection.
      await a.app.get(TransactionRunner).run((tx) =>
        journal.append(tx, [
          {
            thingId: 'feed.lost:t',
            revision: 1,
            action: 'created',
            path: '/',
            value: { thingId: 'feed.lost:t' },
            timestamp: new Date().toISOString(),
            origin: 'system',
            correlationId: null,
          },
        ]),
      );
      await until('the entry, read from the journal', () => got.length === 1);
      expect(got[0]).toMatchObject({
        thingId: 'feed.lost:t',
        revision: 1,
        value: { thingId: 'feed.lost:t' },
      });
    } finally {
      sub.close();
    }
  });
});
