import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JournalRetentionService } from '../../src/journal/journal-retention.service.js';
import { TEST_USERS } from '../support/auth.js';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';
import { SseClient, until } from './realtime.support.js';

/**
 * Ditto's history API (3.2+): `at-historical-revision` / `at-historical-timestamp` on retrieves,
 * historical SSE streams, and the retention. Snapshots every 7 revisions, so that most reads below
 * start from a snapshot and the replay from one is exercised as much as the replay from the start.
 */
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ HISTORY_SNAPSHOT_EVERY: '7' });
});
afterAll(async () => {
  await t.close();
});

const api = (user: keyof typeof TEST_USERS = 'ditto') => dittoHttp(t.baseUrl, user);
const url = (id: string, path = '') => `/api/2/things/${id}${path}`;

async function revisionTimestamp(thingId: string, revision: number): Promise<string> {
  const { rows } = await t.db.query<{ ts: Date }>(
    `SELECT ts FROM journal WHERE entity = 'thing' AND thing_id = $1 AND revision = $2`,
    [thingId, revision],
  );
  return rows[0].ts.toISOString();
}

describe('retrieving a thing at a revision or a time', () => {
  const ID = 'org.example:hist-1';
  const rev1 = { attributes: { color: 'red', size: 1 }, features: { lamp: { properties: { on: false } } } };

  beforeAll(async () => {
    await api().put(url(ID)).send(rev1).expect(201); // 1
    await api()
      .put(url(ID, '/attributes/color'))
      .send('"blue"')
      .set('content-type', 'application/json')
      .expect(204); // 2
    await api()
      .patch(url(ID, '/features/lamp/properties'))
      .set('content-type', 'application/merge-patch+json')
      .send({ on: true, level: 7 })
      .expect(204); // 3
    await api().delete(url(ID, '/attributes/size')).expect(204); // 4
    await api().delete(url(ID)).expect(204); // 5
    await api()
      .put(url(ID))
      .send({ attributes: { reborn: true } })
      .expect(201); // 6
  });

  it('answers the thing as it was at each revision, with that revision in the ETag', async () => {
    const r1 = await api().get(url(ID)).set('at-historical-revision', '1').expect(200);
    expect(r1.body).toEqual({ thingId: ID, policyId: ID, ...rev1 });
    expect(r1.headers.etag).toBe('"rev:1"');
    expect(r1.headers['at-historical-revision']).toBe('1');

    const r3 = await api().get(url(ID)).set('at-historical-revision', '3').expect(200);
    expect(r3.body).toEqual({
      thingId: ID,
      policyId: ID,
      attributes: { color: 'blue', size: 1 },
      features: { lamp: { properties: { on: true, level: 7 } } },
    });
    const r4 = await api().get(url(ID)).set('at-historical-revision', '4').expect(200);
    expect(r4.body.attributes).toEqual({ color: 'blue' });

    const current = await api().get(url(ID)).set('at-historical-revision', '6').expect(200);
    expect(current.body).toEqual({ thingId: ID, policyId: ID, attributes: { reborn: true } });
  });

  it('answers sub-resources and applies fields, system fields of that revision included', async () => {
    const color = await api()
      .get(url(ID, '/attributes/color'))
      .set('at-historical-revision', '1')
      .expect(200);
    expect(color.body).toBe('red');
    const props = await api()
      .get(url(ID, '/features/lamp/properties'))
      .set('at-historical-revision', '3')
      .query({ fields: 'level' })
      .expect(200);
    expect(props.body).toEqual({ level: 7 });
    const sys = await api()
      .get(url(ID))
      .set('at-historical-revision', '2')
      .query({ fields: 'thingId,attributes/color,_revision,_modified' })
      .expect(200);
    expect(sys.body).toEqual({
      thingId: ID,
      attributes: { color: 'blue' },
      _revision: 2,
      _modified: await revisionTimestamp(ID, 2),
    });
    // A path that did not exist at that revision is the resource's usual 404.
    const missing = await api()
      .get(url(ID, '/attributes/size'))
      .set('at-historical-revision', '4')
      .expect(404);
    expect(missing.body.error).toBe('things:attribute.notfound');
  });

  it('rebuilds `_metadata` of that revision: the source time each leaf had then', async () => {
    const [ts1, ts2, ts3] = await Promise.all([1, 2, 3].map((r) => revisionTimestamp(ID, r)));
    const at = async (revision: number) =>
      (
        await api()
          .get(url(ID))
          .set('at-historical-revision', String(revision))
          .query({ fields: '_metadata' })
          .expect(200)
      ).body as Record<string, unknown>;
    expect(await at(1)).toEqual({
      _metadata: {
        attributes: { color: { ts: ts1 }, size: { ts: ts1 } },
        features: { lamp: { properties: { on: { ts: ts1 } } } },
      },
    });
    expect(await at(3)).toEqual({
      _metadata: {
        attributes: { color: { ts: ts2 }, size: { ts: ts1 } },
        features: { lamp: { properties: { on: { ts: ts3 }, level: { ts: ts3 } } } },
      },
    });
    // A deleted leaf has no time any more.
    expect(await at(4)).toEqual({
      _metadata: {
        attributes: { color: { ts: ts2 } },
        features: { lamp: { properties: { on: { ts: ts3 }, level: { ts: ts3 } } } },
      },
    });
  });

  it('keeps `_metadata` across snapshots: a read from a snapshot shows what the replay from the start did', async () => {
    const id = 'org.example:hist-meta-snap';
    await api()
      .put(url(id))
      .send({ attributes: { a: 0, b: 0 } })
      .expect(201);
    for (let n = 2; n <= 9; n++) {
      await api()
        .put(url(id, n % 2 === 0 ? '/attributes/a' : '/attributes/b'))
        .set('content-type', 'application/json')
        .send(String(n))
        .expect(204);
    }
    const expected = {
      attributes: { a: { ts: await revisionTimestamp(id, 8) }, b: { ts: await revisionTimestamp(id, 9) } },
    };
    const read = async () =>
      (await api().get(url(id)).set('at-historical-revision', '9').query({ fields: '_metadata' }).expect(200))
        .body as Record<string, unknown>;
    // Revision 9 is the current one (read from the things table); 8 replays and stores the snapshot at 7.
    expect(await read()).toEqual({ _metadata: expected });
    const at8 = async () =>
      (await api().get(url(id)).set('at-historical-revision', '8').query({ fields: '_metadata' }).expect(200))
        .body as Record<string, unknown>;
    const fromStart = await at8();
    const { rows } = await t.db.query<{ leaf_times: unknown }>(
      `SELECT leaf_times FROM thing_snapshots WHERE thing_id = $1 AND revision = 7`,
      [id],
    );
    expect(rows[0].leaf_times).toEqual({
      '/attributes/a': await revisionTimestamp(id, 6),
      '/attributes/b': await revisionTimestamp(id, 7),
    });
    expect(await at8()).toEqual(fromStart);
    expect(fromStart).toEqual({
      _metadata: {
        attributes: { a: { ts: await revisionTimestamp(id, 8) }, b: { ts: await revisionTimestamp(id, 7) } },
      },
    });
  });

  it('answers at a timestamp with the state of the newest revision written by then', async () => {
    const at2 = await revisionTimestamp(ID, 2);
    const res = await api().get(url(ID)).set('at-historical-timestamp', at2).expect(200);
    expect(res.headers['at-historical-revision']).toBe('2');
    expect(res.body.attributes).toEqual({ color: 'blue', size: 1 });
    // Before the first revision the thing did not exist.
    const before = new Date(Date.parse(await revisionTimestamp(ID, 1)) - 60_000).toISOString();
    const gone = await api().get(url(ID)).set('at-historical-timestamp', before).expect(404);
    expect(gone.body.error).toBe('things:thing.notfound');
  });

  it('answers 404 where the thing did not exist: deleted, or not yet created', async () => {
    for (const revision of ['5', '0']) {
      const res = await api().get(url(ID)).set('at-historical-revision', revision).expect(404);
      expect(res.body.error).toBe('things:thing.notfound');
    }
  });

  it('answers things:thing.history.notfound for a revision beyond the current one', async () => {
    const res = await api().get(url(ID)).set('at-historical-revision', '7').expect(404);
    expect(res.body).toMatchObject({ status: 404, error: 'things:thing.history.notfound' });
    expect(res.body.message).toContain("at revision '7'");
  });

  it('answers 400 in Ditto error JSON for a header that is not a revision or a timestamp', async () => {
    for (const [name, value] of [
      ['at-historical-revision', 'abc'],
      ['at-historical-revision', '-1'],
      ['at-historical-revision', '1.5'],
      ['at-historical-timestamp', 'yesterday'],
      ['at-historical-timestamp', '2024-13-01T00:00:00Z'],
    ]) {
      const res = await api().get(url(ID)).set(name, value).expect(400);
      expect(res.body).toMatchObject({ status: 400, error: 'header.invalid' });
    }
  });

  it('answers 404 for a thing that never existed', async () => {
    const res = await api().get(url('org.example:hist-never')).set('at-historical-revision', '1').expect(404);
    expect(res.body.error).toBe('things:thing.notfound');
  });
});

describe('enforcement by the current policy', () => {
  const POLICY = 'org.example:hist-policy';
  const ID = 'org.example:hist-guarded';
  const subject = (name: keyof typeof TEST_USERS) => ({ [TEST_USERS[name].subject]: { type: 'test' } });

  beforeAll(async () => {
    await api()
      .put(`/api/2/policies/${POLICY}`)
      .send({
        entries: {
          OWNER: {
            subjects: subject('ditto'),
            resources: {
              'thing:/': { grant: ['READ', 'WRITE'], revoke: [] },
              'policy:/': { grant: ['READ', 'WRITE'], revoke: [] },
            },
          },
          READER: {
            subjects: subject('alice'),
            resources: { 'thing:/attributes': { grant: ['READ'], revoke: [] } },
          },
        },
      })
      .expect(201);
    await api()
      .put(url(ID))
      .send({ policyId: POLICY, attributes: { a: 1 }, features: { secret: { properties: { pin: 1234 } } } })
      .expect(201);
    await api().put(url(ID, '/attributes/a')).set('content-type', 'application/json').send('2').expect(204);
  });

  it('cuts the historical thing to what the subject may read now', async () => {
    const res = await api('alice').get(url(ID)).set('at-historical-revision', '1').expect(200);
    // As a current read: the ids, and of the rest only the attributes (as they were at revision 1).
    expect(res.body).toEqual({ thingId: ID, policyId: POLICY, attributes: { a: 1 } });
    const feature = await api('alice')
      .get(url(ID, '/features/secret'))
      .set('at-historical-revision', '1')
      .expect(404);
    expect(feature.body.error).toBe('things:feature.notfound');
  });

  it('tells a subject without any grant that the thing does not exist, at any revision', async () => {
    for (const revision of ['1', '2', '99']) {
      const res = await api('bob').get(url(ID)).set('at-historical-revision', revision).expect(404);
      expect(res.body.error).toBe('things:thing.notfound');
    }
  });
});

/** A small independent model of the writes this test makes, to check the rebuilt states against. */
type Doc = {
  attributes?: Record<string, unknown>;
  features?: Record<string, { properties: Record<string, unknown> }>;
};

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

describe('historical reads checked against the journal', () => {
  it('for 1,000 random (thing, revision) pairs the rebuilt state is the state the writes made', async () => {
    const random = mulberry32(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const ids = Array.from({ length: 6 }, (_, i) => `org.example:hist-prop-${i}`);
    /** expected[id][revision] = the thing's document then, or null when it did not exist. */
    const expected = new Map<string, (Doc | null)[]>(ids.map((id) => [id, [null]]));
    const current = new Map<string, Doc | null>(ids.map((id) => [id, null]));
    const keys = ['a', 'b', 'c', 'd'];

    for (let i = 0; i < 360; i++) {
      const id = pick(ids);
      const doc = current.get(id) ?? null;
      let next: Doc | null;
      const roll = random();
      if (!doc) {
        // Both features from the start, so that every merge below them is valid.
        next = {
          attributes: { [pick(keys)]: i },
          features: { x: { properties: {} }, y: { properties: {} } },
        };
        await api().put(url(id)).send(next).expect(201);
      } else if (roll < 0.35) {
        const k = pick(keys);
        await api()
          .put(url(id, `/attributes/${k}`))
          .set('content-type', 'application/json')
          .send(String(i))
          .expect(doc.attributes && k in doc.attributes ? 204 : 201);
        next = { ...doc, attributes: { ...doc.attributes, [k]: i } };
      } else if (roll < 0.7) {
        const f = pick(['x', 'y']);
        const patch: Record<string, unknown> = { [pick(keys)]: { v: i }, [pick(keys)]: null };
        await api()
          .patch(url(id, `/features/${f}/properties`))
          .set('content-type', 'application/merge-patch+json')
          .send(patch)
          .expect(204);
        const props: Record<string, unknown> = { ...doc.features?.[f].properties };
        for (const [k, v] of Object.entries(patch)) {
          if (v === null) delete props[k];
          else props[k] = v;
        }
        next = { ...doc, features: { ...doc.features, [f]: { properties: props } } };
      } else if (roll < 0.8) {
        const present = Object.keys(doc.attributes ?? {});
        if (present.length === 0) continue;
        const k = pick(present);
        await api()
          .delete(url(id, `/attributes/${k}`))
          .expect(204);
        const attributes = { ...doc.attributes };
        delete attributes[k];
        next = { ...doc, attributes };
      } else if (roll < 0.9) {
        next = { attributes: { whole: i }, features: { x: { properties: {} }, y: { properties: { z: i } } } };
        await api().put(url(id)).send(next).expect(204);
      } else {
        await api().delete(url(id)).expect(204);
        next = null;
      }
      current.set(id, next);
      expected.get(id)!.push(next);
    }

    let checked = 0;
    while (checked < 1000) {
      const id = pick(ids);
      const states = expected.get(id)!;
      if (states.length < 2) continue;
      const revision = 1 + Math.floor(random() * (states.length - 1));
      const want = states[revision];
      const res = await api()
        .get(url(id))
        .set('at-historical-revision', String(revision))
        .expect(want ? 200 : 404);
      if (want) expect(res.body).toEqual({ thingId: id, policyId: id, ...want });
      else expect(res.body.error).toBe('things:thing.notfound');
      checked++;
    }
  });
});

describe('historical event streams over SSE', () => {
  const ID = 'org.example:hist-sse';

  beforeAll(async () => {
    await api()
      .put(url(ID))
      .send({ attributes: { n: 1 } })
      .expect(201);
    for (let n = 2; n <= 6; n++) {
      await api()
        .put(url(ID, '/attributes/n'))
        .set('content-type', 'application/json')
        .send(String(n))
        .expect(204);
    }
  });

  it('streams the changes from-historical-revision to to-historical-revision, then ends', async () => {
    const sse = await SseClient.open(
      `${t.baseUrl}/api/2/things/${ID}?from-historical-revision=2&to-historical-revision=4&fields=thingId,attributes,_revision`,
    );
    await until('the stream to end', () => sse.ended);
    expect(sse.events.map((e) => JSON.parse(e.data))).toEqual([
      { thingId: ID, attributes: { n: 2 }, _revision: 2 },
      { thingId: ID, attributes: { n: 3 }, _revision: 3 },
      { thingId: ID, attributes: { n: 4 }, _revision: 4 },
    ]);
  });

  it('carries `_metadata` of each historical event when fields ask for it: the times that change wrote', async () => {
    const sse = await SseClient.open(
      `${t.baseUrl}/api/2/things/${ID}?from-historical-revision=2&to-historical-revision=3&fields=attributes,_metadata`,
    );
    await until('the stream to end', () => sse.ended);
    expect(sse.events.map((e) => JSON.parse(e.data))).toEqual([
      { attributes: { n: 2 }, _metadata: { attributes: { n: { ts: await revisionTimestamp(ID, 2) } } } },
      { attributes: { n: 3 }, _metadata: { attributes: { n: { ts: await revisionTimestamp(ID, 3) } } } },
    ]);
  });

  it('streams by timestamps', async () => {
    const from = await revisionTimestamp(ID, 5);
    const to = await revisionTimestamp(ID, 6);
    const sse = await SseClient.open(
      `${t.baseUrl}/api/2/things/${ID}?from-historical-timestamp=${from}&to-historical-timestamp=${to}&fields=attributes`,
    );
    await until('the stream to end', () => sse.ended);
    expect(sse.events.map((e) => JSON.parse(e.data))).toEqual([
      { attributes: { n: 5 } },
      { attributes: { n: 6 } },
    ]);
  });

  it('without to-historical-revision continues live after the history', async () => {
    const sse = await SseClient.open(
      `${t.baseUrl}/api/2/things/${ID}?from-historical-revision=-1&fields=attributes/n,_revision`,
    );
    try {
      await until('the history', () => sse.events.length === 2);
      await api().put(url(ID, '/attributes/n')).set('content-type', 'application/json').send('7').expect(204);
      await until('the live event', () => sse.events.length === 3);
      expect(sse.events.map((e) => JSON.parse(e.data))).toEqual([
        { attributes: { n: 5 }, _revision: 5 },
        { attributes: { n: 6 }, _revision: 6 },
        { attributes: { n: 7 }, _revision: 7 },
      ]);
      expect(sse.ended).toBe(false);
    } finally {
      sse.close();
    }
  });

  it('answers Ditto errors before streaming: unknown thing, range beyond retention-free history, bad value', async () => {
    await expect(
      SseClient.open(`${t.baseUrl}/api/2/things/org.example:hist-nope?from-historical-revision=1`),
    ).rejects.toThrow('SSE answered 404');
    await expect(
      SseClient.open(`${t.baseUrl}/api/2/things/${ID}?from-historical-revision=99`),
    ).rejects.toThrow('SSE answered 404');
    await expect(
      SseClient.open(`${t.baseUrl}/api/2/things/${ID}?from-historical-revision=x`),
    ).rejects.toThrow('SSE answered 400');
    await expect(SseClient.open(`${t.baseUrl}/api/2/things?from-historical-revision=1`)).rejects.toThrow(
      'SSE answered 400',
    );
  });
});

describe('journal retention', () => {
  const ID = 'org.example:hist-retained';

  it('deletes rows older than the retention up to the consumers’ cursors; older revisions answer 404', async () => {
    await api()
      .put(url(ID))
      .send({ attributes: { n: 0 } })
      .expect(201);
    for (let n = 1; n < 10; n++) {
      await api()
        .put(url(ID, '/attributes/n'))
        .set('content-type', 'application/json')
        .send(String(n))
        .expect(204);
    }
    // A read of revision 9 replays from the start and leaves a snapshot at revision 7.
    const nine = await api().get(url(ID)).set('at-historical-revision', '9').expect(200);
    expect(nine.body.attributes).toEqual({ n: 8 });
    const { rows: snaps } = await t.db.query(`SELECT revision FROM thing_snapshots WHERE thing_id = $1`, [
      ID,
    ]);
    expect(snaps.map((r) => Number(r.revision))).toEqual([7]);

    // Revisions 1-9 are 100 days old; the desired-state publisher has consumed up to revision 6.
    await t.db.query(
      `UPDATE journal SET ts = ts - interval '100 days' WHERE entity = 'thing' AND thing_id = $1 AND revision < 10`,
      [ID],
    );
    const { rows: seq6 } = await t.db.query<{ seq: string }>(
      `SELECT seq::text FROM journal WHERE entity = 'thing' AND thing_id = $1 AND revision = 6`,
      [ID],
    );
    // The rows of the tests before are young and come first, and a run stops at the first young row
    // (rows go in seq order): make them old too. Their newest row per entity stays regardless.
    await t.db.query(`UPDATE journal SET ts = ts - interval '100 days' WHERE seq < $1`, [seq6[0].seq]);
    await t.db.query(
      `INSERT INTO ingest_desired_cursor (id, seq) VALUES (true, $1) ON CONFLICT (id) DO UPDATE SET seq = $1`,
      [seq6[0].seq],
    );
    await t.app.get(JournalRetentionService).prune(Date.now(), 30);

    const { rows } = await t.db.query<{ revision: string }>(
      `SELECT revision FROM journal WHERE entity = 'thing' AND thing_id = $1 ORDER BY revision`,
      [ID],
    );
    // Up to the cursor the old rows went; after it they stay although they are as old.
    expect(rows.map((r) => Number(r.revision))).toEqual([7, 8, 9, 10]);

    for (const revision of ['1', '6']) {
      const res = await api().get(url(ID)).set('at-historical-revision', revision).expect(404);
      expect(res.body.error).toBe('things:thing.history.notfound');
      expect(res.body.message).toContain('no longer retained');
    }
    // The snapshot at 7 is the base the remaining history replays from.
    const seven = await api().get(url(ID)).set('at-historical-revision', '7').expect(200);
    expect(seven.body.attributes).toEqual({ n: 6 });
    const eight = await api().get(url(ID, '/attributes/n')).set('at-historical-revision', '8').expect(200);
    expect(eight.body).toBe(7);
    // Never current data under a historical header: a timestamp before what is retained is a 404 too.
    const old = new Date(Date.now() - 200 * 86_400_000).toISOString();
    const res = await api().get(url(ID)).set('at-historical-timestamp', old).expect(404);
    expect(res.body.error).toBe('things:thing.history.notfound');
  });
});
