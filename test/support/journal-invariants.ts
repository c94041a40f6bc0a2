import { expect } from '@jest/globals';
import request from 'supertest';
import { ThingHistoryService } from '../../src/twins/history/thing-history.service.js';
import { authHeaders } from './auth.js';
import type { TestApp } from './app.js';

/**
 * What must hold whatever clients sent, for the things whose id starts with `prefix`: each
 * thing's journal goes up one revision per change (a re-created thing continues its revisions).
 */
export async function expectJournalGapFree(t: TestApp, prefix: string): Promise<number> {
  const { rows } = await t.db.query<{ thing_id: string; revs: string[] }>(
    `SELECT thing_id, array_agg(revision ORDER BY seq) AS revs FROM journal
      WHERE entity = 'thing' AND starts_with(thing_id, $1) GROUP BY thing_id`,
    [prefix],
  );
  for (const r of rows) {
    const revs = r.revs.map(Number);
    expect([r.thing_id, revs[0]]).toEqual([r.thing_id, 1]);
    for (let i = 1; i < revs.length; i++)
      expect([r.thing_id, revs[i]]).toEqual([r.thing_id, revs[i - 1] + 1]);
  }
  return rows.length;
}

/**
 * Every thing whose id starts with `prefix` and that has a journal: replaying the journal to its
 * last revision (ThingHistoryService) gives what REST serves now, with that revision as its
 * ETag, or nothing (404) when the last change deleted it; a thing the test user may no longer
 * read is compared as stored. Returns how many things were compared.
 */
export async function expectTwinsEqualTheirReplay(t: TestApp, prefix: string): Promise<number> {
  const history = t.app.get(ThingHistoryService);
  const { rows } = await t.db.query<{ thing_id: string; head: string }>(
    `SELECT thing_id, max(revision) AS head FROM journal
      WHERE entity = 'thing' AND starts_with(thing_id, $1) GROUP BY thing_id`,
    [prefix],
  );
  for (const { thing_id: id, head } of rows) {
    const replayed = await history.stateAt(id, Number(head));
    const res = await request(t.baseUrl)
      .get(`/api/2/things/${encodeURIComponent(id)}`)
      .query({ fields: 'thingId,policyId,definition,attributes,features' })
      .set(authHeaders());
    if (replayed.doc === null) {
      expect({ id, status: res.status }).toEqual({ id, status: 404 });
      continue;
    }
    if (res.status === 404) {
      // Its policy no longer lets the test user read it (a fuzzed policy write): the twin as stored.
      const stored = await t.db.query<{ doc: unknown; revision: string }>(
        'SELECT doc, revision FROM things WHERE thing_id = $1',
        [id],
      );
      expect({ id, revision: Number(stored.rows[0]?.revision), twin: stored.rows[0]?.doc }).toEqual({
        id,
        revision: Number(head),
        twin: replayed.doc,
      });
      continue;
    }
    expect({ id, status: res.status, etag: res.headers.etag }).toEqual({
      id,
      status: 200,
      etag: `"rev:${head}"`,
    });
    expect({ id, twin: res.body as unknown }).toEqual({ id, twin: replayed.doc });
  }
  return rows.length;
}
