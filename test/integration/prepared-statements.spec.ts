import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authHeaders } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { TransactionRunner } from '../../src/persistence/transaction.js';
import { TwinsRepository } from '../../src/twins/twins.repository.js';

/**
 * The repositories' fixed statements are prepared once per connection (DATABASE_PREPARED_STATEMENTS,
 * on by default), and keep working when the table changes under a running instance, as a newer
 * replica's migration does during a rolling upgrade.
 */
let on: TestApp;
let off: TestApp;
const ID = 'org.prep:meter';

beforeAll(async () => {
  on = await startTestApp();
  off = await startTestApp({ DATABASE_PREPARED_STATEMENTS: 'false' });
  await put(on);
  await put(off);
});
afterAll(async () => {
  await on?.close();
  await off?.close();
});

async function put(t: TestApp): Promise<void> {
  const res = await fetch(`${t.baseUrl}/api/2/things/${ID}`, {
    method: 'PUT',
    headers: { ...authHeaders('alice'), 'content-type': 'application/json' },
    body: JSON.stringify({ attributes: { kind: 'meter' } }),
  });
  expect(res.status).toBe(201);
}

async function putAttribute(t: TestApp, n: number): Promise<number> {
  const res = await fetch(`${t.baseUrl}/api/2/things/${ID}/attributes/n`, {
    method: 'PUT',
    headers: { ...authHeaders('alice'), 'content-type': 'application/json' },
    body: JSON.stringify(n),
  });
  return res.status;
}

async function get(t: TestApp): Promise<unknown> {
  const res = await fetch(`${t.baseUrl}/api/2/things/${ID}`, { headers: authHeaders('alice') });
  expect(res.status).toBe(200);
  return ((await res.json()) as { attributes: unknown }).attributes;
}

/** What the connection a transaction runs on has prepared, after reading the thing on it. */
async function preparedAfterRead(t: TestApp): Promise<string[]> {
  return t.app.get(TransactionRunner).run(async (tx) => {
    expect(await t.app.get(TwinsRepository).findOne(tx, ID, { metadata: false })).not.toBeNull();
    const rows = await tx.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements');
    return rows.map((r) => r.statement);
  });
}

describe('prepared statements', () => {
  it('prepares the read of a thing by id on the connection that ran it', async () => {
    const prepared = await preparedAfterRead(on);
    expect(prepared.some((s) => s.includes('FROM things WHERE thing_id = $1'))).toBe(true);
  });

  it('keeps answering while a migration adds and drops a column of the table', async () => {
    for (let i = 0; i < 12; i++) expect(await get(on)).toEqual({ kind: 'meter' });
    await on.db.query('ALTER TABLE things ADD COLUMN added_by_a_newer_replica integer');
    try {
      for (let i = 0; i < 12; i++) expect(await get(on)).toEqual({ kind: 'meter' });
    } finally {
      await on.db.query('ALTER TABLE things DROP COLUMN added_by_a_newer_replica');
    }
    expect(await get(on)).toEqual({ kind: 'meter' });
  });

  it('keeps reading and writing when a migration changes the type of a column the statements return', async () => {
    // Warm: the statements are prepared, by now on several connections, with generic plans.
    for (let i = 0; i < 12; i++) expect(await get(on)).toEqual({ kind: 'meter' });
    for (let i = 0; i < 6; i++) expect(await putAttribute(on, i)).toBe(i === 0 ? 201 : 204);
    // A newer replica's migration: PostgreSQL now refuses the old statements (result type changed).
    await on.db.query('ALTER TABLE things ALTER COLUMN revision TYPE numeric');
    try {
      for (let i = 0; i < 12; i++) expect(await get(on)).toEqual({ kind: 'meter', n: 5 });
      for (let i = 0; i < 6; i++) expect(await putAttribute(on, 10 + i)).toBe(204);
    } finally {
      await on.db.query('ALTER TABLE things ALTER COLUMN revision TYPE bigint');
    }
    for (let i = 0; i < 12; i++) expect(await get(on)).toEqual({ kind: 'meter', n: 15 });
    expect(await putAttribute(on, 20)).toBe(204);
  });

  it('prepares nothing with DATABASE_PREPARED_STATEMENTS=false', async () => {
    expect(await get(off)).toEqual({ kind: 'meter' });
    expect(await preparedAfterRead(off)).toEqual([]);
  });
});

describe('prepared searches', () => {
  let one: TestApp;
  const building = (b: number) => `org.prep-search:b${b}`;

  beforeAll(async () => {
    // One connection for searches, so its prepared statements are the ones every search used.
    one = await startTestApp({ QUERY_POOL_SIZE: '1' });
    for (let b = 0; b < 3; b++) {
      for (let i = 0; i < 4; i++) {
        const owner = i === 3 ? 'bob' : 'alice';
        const res = await fetch(`${one.baseUrl}/api/2/things/${building(b)}-${i}`, {
          method: 'PUT',
          headers: { ...authHeaders(owner), 'content-type': 'application/json' },
          body: JSON.stringify({ attributes: { building: `B${b}`, floor: i } }),
        });
        expect(res.status).toBe(201);
      }
    }
  });
  afterAll(async () => {
    await one?.close();
  });

  async function search(user: 'alice' | 'bob', b: number, cursor?: string) {
    const filter = encodeURIComponent(`eq(attributes/building,"B${b}")`);
    const option = encodeURIComponent(`size(2)${cursor ? `,cursor(${cursor})` : ''}`);
    const res = await fetch(`${one.baseUrl}/api/2/search/things?filter=${filter}&option=${option}`, {
      headers: authHeaders(user),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: { thingId: string }[]; cursor?: string };
    return { ids: body.items.map((i) => i.thingId), cursor: body.cursor };
  }

  it('answers every value and reader right once PostgreSQL plans the shape once for all', async () => {
    // More runs than PostgreSQL's five custom plans, so later ones may use the generic plan.
    for (let round = 0; round < 4; round++) {
      for (let b = 0; b < 3; b++) {
        const first = await search('alice', b);
        expect(first.ids).toEqual([`${building(b)}-0`, `${building(b)}-1`]);
        const second = await search('alice', b, first.cursor);
        expect(second).toEqual({ ids: [`${building(b)}-2`], cursor: undefined });
        expect((await search('bob', b)).ids).toEqual([`${building(b)}-3`]);
      }
    }
    const statements = await one.app
      .get(TransactionRunner)
      .bounded.query<{ statement: string; runs: string }>(
        `SELECT statement, (generic_plans + custom_plans)::text AS runs FROM pg_prepared_statements
         WHERE statement LIKE 'WITH c AS MATERIALIZED%'`,
      );
    // One statement for the first pages (alice and bob), one for the pages after a cursor.
    expect(statements.map((s) => Number(s.runs)).sort((a, b) => a - b)).toEqual([12, 24]);
  });
});
