import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';

/**
 * The search index (GIN on the documents) takes writes into a pending list that whoever
 * overflows it must merge, a stall of ~100 ms in a write under load. SEARCH_INDEX_UPKEEP_MS merges
 * it in the background instead. Seen through PostgreSQL's own statistics (pgstattuple), and
 * through the search, which must find every write whether its entries are pending or merged.
 */
let off: TestApp;
let on: TestApp;

beforeAll(async () => {
  [off, on] = await Promise.all([
    startTestApp({ SEARCH_INDEX_UPKEEP_MS: '0' }),
    startTestApp({ SEARCH_INDEX_UPKEEP_MS: '100' }),
  ]);
  for (const t of [off, on]) await t.db.query('CREATE EXTENSION IF NOT EXISTS pgstattuple');
});
afterAll(async () => {
  await Promise.all([off?.close(), on?.close()]);
});

async function pendingTuples(t: TestApp): Promise<number> {
  const { rows } = await t.db.query<{ pending_tuples: string }>(
    `SELECT pending_tuples FROM pgstatginindex('things_doc_idx')`,
  );
  return Number(rows[0].pending_tuples);
}

/** 200 meters over 10 buildings, 20 at a time, as clients write them. */
async function writeMeters(t: TestApp, power: number): Promise<void> {
  const api = dittoHttp(t.baseUrl);
  for (let k = 0; k < 200; k += 20) {
    await Promise.all(
      Array.from({ length: 20 }, (_, j) =>
        api
          .put(`/api/2/things/org.upkeep:meter-${k + j}`)
          .send({
            attributes: { building: `B${(k + j) % 10}` },
            features: { energy: { properties: { power } } },
          })
          .expect((res) => expect([201, 204]).toContain(res.status)),
      ),
    );
  }
}

async function searchIds(t: TestApp, filter: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const res = await dittoHttp(t.baseUrl)
      .get('/api/2/search/things')
      .query({ filter, option: `size(200)${cursor ? `,cursor(${cursor})` : ''}`, fields: 'thingId' })
      .expect(200);
    ids.push(...(res.body.items as { thingId: string }[]).map((i) => i.thingId));
    cursor = res.body.cursor as string | undefined;
  } while (cursor);
  return ids.sort();
}

const building3 = Array.from({ length: 20 }, (_, k) => `org.upkeep:meter-${k * 10 + 3}`).sort();

describe('search index upkeep (SEARCH_INDEX_UPKEEP_MS)', () => {
  it('without it, written documents wait in the pending list, and search finds them there', async () => {
    await writeMeters(off, 1);
    await new Promise((ok) => setTimeout(ok, 500));
    expect(await pendingTuples(off)).toBeGreaterThan(0);
    expect(await searchIds(off, 'eq(attributes/building,"B3")')).toEqual(building3);
  });

  it('with it, the pending list is merged in the background, and search finds every write before and after', async () => {
    await writeMeters(on, 1);
    const deadline = Date.now() + 10_000;
    while ((await pendingTuples(on)) > 0 && Date.now() < deadline) {
      await new Promise((ok) => setTimeout(ok, 100));
    }
    expect(await pendingTuples(on)).toBe(0);
    expect(await searchIds(on, 'eq(attributes/building,"B3")')).toEqual(building3);
    // New values, merged or still pending, replace the old ones in what search finds.
    await writeMeters(on, 2);
    expect(await searchIds(on, 'eq(features/energy/properties/power,1)')).toEqual([]);
    expect(
      await searchIds(on, 'and(eq(attributes/building,"B3"),eq(features/energy/properties/power,2))'),
    ).toEqual(building3);
  });
});
