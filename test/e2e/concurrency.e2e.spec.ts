import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import request from 'supertest';
import { TwinsRepository } from '../../src/twins/twins.repository.js';
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

const get = (id: string) => request(t.baseUrl).get(`/api/2/things/${id}`).set(authHeaders());

describe('reads by id under load (THING_READ_STATEMENTS)', () => {
  beforeAll(async () => {
    for (let i = 0; i < 40; i++) {
      await request(t.baseUrl)
        .put(`/api/2/things/org.example:read-${i}`)
        .set(authHeaders())
        .send({ attributes: { i } })
        .expect(201);
    }
  });

  it('200 GETs at once on a slow database each get their own thing or 404, in a few statements', async () => {
    // Each statement takes 60 ms longer, as on a loaded database: the GETs arriving meanwhile wait
    // and go together in the next one. (The 200 connections arrive over a few hundred ms on a busy
    // machine: without batching there would be 200 statements, with it a handful per 60 ms.)
    const findMany = TwinsRepository.prototype.findMany.bind(new TwinsRepository());
    const statements = jest
      .spyOn(TwinsRepository.prototype, 'findMany')
      .mockImplementation(async (...args) => {
        await new Promise((ok) => setTimeout(ok, 60));
        return findMany(...args);
      });
    try {
      const ids = Array.from({ length: 200 }, (_, k) =>
        k % 50 < 40 ? `org.example:read-${k % 50}` : `org.example:absent-${k}`,
      );
      const answers = await Promise.all(ids.map(get));
      answers.forEach((res, k) => {
        if (k % 50 < 40) {
          expect(res.status).toBe(200);
          expect(res.body).toEqual({ thingId: ids[k], policyId: ids[k], attributes: { i: k % 50 } });
        } else {
          expect(res.status).toBe(404);
          expect(res.body.error).toBe('things:thing.notfound');
        }
      });
      expect(statements.mock.calls.length).toBeLessThan(ids.length / 4);
    } finally {
      statements.mockRestore();
    }
  });

  it('a GET sent after a write was answered shows that write while other clients keep reading', async () => {
    const id = 'org.example:read-your-writes';
    await request(t.baseUrl).put(`/api/2/things/${id}`).set(authHeaders()).send({}).expect(201);
    let reading = true;
    const others = Array.from({ length: 20 }, async (_, c) => {
      while (reading) await get(`org.example:read-${c}`).expect(200);
    });
    try {
      for (let v = 0; v < 30; v++) {
        await patch(id, { attributes: { v } }).expect(204);
        const res = await get(id).expect(200);
        expect(res.body.attributes).toEqual({ v });
      }
    } finally {
      reading = false;
      await Promise.all(others);
    }
  });
});
