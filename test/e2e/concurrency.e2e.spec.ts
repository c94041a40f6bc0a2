import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { authHeaders } from '../support/auth.js';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ DATABASE_POOL_SIZE: '10' });
});
afterAll(async () => {
  await t.close();
});

const patch = (id: string, body: unknown) =>
  request(t.baseUrl)
    .patch(`/api/2/things/${id}`)
    .set(authHeaders())
    .set('Content-Type', 'application/merge-patch+json')
    .send(JSON.stringify(body));

describe('one write path under concurrency', () => {
  it('50 concurrent PATCHes to one thing all land: revision +50, every key present', async () => {
    const id = 'org.example:hot';
    await request(t.baseUrl)
      .put(`/api/2/things/${id}`)
      .set(authHeaders())
      .send({ attributes: {} })
      .expect(201);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => patch(id, { attributes: { [`k${i}`]: i } })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(204));
    const res = await request(t.baseUrl)
      .get(`/api/2/things/${id}`)
      .set(authHeaders())
      .query({ fields: 'attributes,_revision' });
    expect(res.body._revision).toBe(51);
    expect(Object.keys(res.body.attributes)).toHaveLength(50);
    const { rows } = await t.db.query(
      `SELECT revision FROM journal WHERE entity = 'thing' AND thing_id = $1 ORDER BY revision`,
      [id],
    );
    expect(rows.map((r) => Number(r.revision))).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
  });

  it('concurrent creation of the same thing: one 201, the rest 204, nothing lost', async () => {
    const id = 'org.example:raced';
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(t.baseUrl)
          .put(`/api/2/things/${id}`)
          .set(authHeaders())
          .send({ attributes: { n: i } }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array(9).fill(204)]);
    const { rows } = await t.db.query('SELECT revision FROM things WHERE thing_id = $1', [id]);
    expect(Number(rows[0].revision)).toBe(10);
  });

  it('a journal reader that resumes from the last seq it saw never misses a committed entry', async () => {
    const seen: number[] = [];
    let last = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const { rows } = await t.db.query('SELECT seq FROM journal WHERE seq > $1 ORDER BY seq', [last]);
        for (const r of rows) {
          const seq = Number(r.seq);
          seen.push(seq);
          last = seq;
        }
        await new Promise((ok) => setTimeout(ok, 2));
      }
    })();
    const writes = Array.from({ length: 300 }, (_, i) =>
      patch(`org.example:fan-${i % 30}`, { attributes: { i } }),
    );
    await Promise.all(writes);
    writing = false;
    await reader;
    const { rows } = await t.db.query('SELECT seq FROM journal WHERE seq > $1 ORDER BY seq', [last]);
    seen.push(...rows.map((r) => Number(r.seq)));
    const { rows: all } = await t.db.query('SELECT seq FROM journal ORDER BY seq');
    const allSeqs = all.map((r) => Number(r.seq));
    const firstSeen = seen[0];
    expect(seen).toEqual(allSeqs.filter((s) => s >= firstSeen));
  });
});
