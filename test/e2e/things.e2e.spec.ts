import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { authHeaders } from '../support/auth.js';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';

let t: TestApp;
const ID = 'org.example:lamp-1';
const base = `/api/2/things/${ID}`;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

/** Every response is validated against Ditto's OpenAPI spec. */
function api() {
  return dittoHttp(t.baseUrl);
}

const lamp = {
  definition: 'org.example:lamp:1.0.0',
  attributes: { manufacturer: 'ACME', location: { building: 'B1', floor: 2 } },
  features: {
    light: { properties: { on: false, level: 0 }, desiredProperties: { on: true } },
    energy: { definition: ['org.example:meter:1.0.0'], properties: { power: 12.5 } },
  },
};

describe('things CRUD as in Ditto', () => {
  it('PUT creates with 201, the body, Location and ETag rev:1; policyId defaults to the thingId', async () => {
    const res = await api().put(base).send(lamp).expect(201);
    expect(res.headers.location).toBe(`/api/2/things/${ID}`);
    expect(res.headers.etag).toBe('"rev:1"');
    expect(res.body).toEqual({ thingId: ID, policyId: ID, ...lamp });
  });

  it('PUT again modifies with 204 and no body, revision 2', async () => {
    const res = await api().put(base).send(lamp).expect(204);
    expect(res.text).toBe('');
    expect(res.headers.etag).toBe('"rev:2"');
  });

  it('GET returns the thing in Ditto field order without system fields', async () => {
    const res = await api().get(base).expect(200);
    expect(Object.keys(res.body)).toEqual(['thingId', 'policyId', 'definition', 'attributes', 'features']);
    expect(res.body._revision).toBeUndefined();
    expect(res.headers.etag).toBe('"rev:2"');
  });

  it('fields selects system fields, groups and the feature wildcard', async () => {
    const sys = await api()
      .get(base)
      .query({ fields: 'thingId,_revision,_namespace,_created,_modified' })
      .expect(200);
    expect(sys.body).toMatchObject({ thingId: ID, _revision: 2, _namespace: 'org.example' });
    expect(Date.parse(sys.body._modified)).not.toBeNaN();
    const group = await api()
      .get(base)
      .query({ fields: 'attributes(manufacturer,location/floor)' })
      .expect(200);
    expect(group.body).toEqual({ attributes: { manufacturer: 'ACME', location: { floor: 2 } } });
    const wild = await api().get(base).query({ fields: 'features/*/properties/on' }).expect(200);
    expect(wild.body).toEqual({ features: { light: { properties: { on: false } } } });
  });

  it('_metadata is in the answer exactly when fields name it, by id and in search', async () => {
    const byId = await api().get(base).query({ fields: 'thingId,_metadata' }).expect(200);
    const metadata = byId.body._metadata as Record<string, Record<string, unknown>>;
    expect(Object.keys(metadata.attributes)).toEqual(expect.arrayContaining(['manufacturer', 'location']));
    expect(metadata.features).toBeDefined();
    const search = (query: Record<string, string>) =>
      api().get('/api/2/search/things').query(query).expect(200);
    // An indexed equality (candidates sorted in memory) and a plain listing (the ordered query).
    for (const filter of ['eq(attributes/manufacturer,"ACME")', `eq(thingId,"${ID}")`]) {
      const withMeta = await search({ filter, fields: 'thingId,_metadata' });
      expect(withMeta.body.items).toEqual([{ thingId: ID, _metadata: metadata }]);
      const without = await search({ filter, fields: 'thingId,_revision' });
      expect(without.body.items).toEqual([{ thingId: ID, _revision: 2 }]);
    }
    const plain = await api().get(base).query({ fields: 'thingId,attributes/manufacturer' }).expect(200);
    expect(plain.body).toEqual({ thingId: ID, attributes: { manufacturer: 'ACME' } });
  });

  it('sub-resources: PUT 201 then 204, GET, DELETE, then Ditto not-found codes', async () => {
    const created = await api().put(`${base}/attributes/serial`).send('"SN-1"').type('json').expect(201);
    expect(created.body).toBe('SN-1');
    expect(created.headers.location).toBe(`/api/2/things/${ID}/attributes/serial`);
    await api().put(`${base}/attributes/serial`).send('"SN-2"').type('json').expect(204);
    const got = await api().get(`${base}/attributes/serial`).expect(200);
    expect(got.body).toBe('SN-2');
    await api().delete(`${base}/attributes/serial`).expect(204);
    const missing = await api().get(`${base}/attributes/serial`).expect(404);
    expect(missing.body.error).toBe('things:attribute.notfound');
  });

  it('feature levels: properties path, desiredProperties, definition, whole feature', async () => {
    await api().put(`${base}/features/light/properties/level`).send('80').type('json').expect(204);
    expect((await api().get(`${base}/features/light/properties/level`).expect(200)).body).toBe(80);
    await api().put(`${base}/features/light/desiredProperties/level`).send('50').type('json').expect(201);
    const desired = await api().get(`${base}/features/light/desiredProperties`).expect(200);
    expect(desired.body).toEqual({ on: true, level: 50 });
    await api().put(`${base}/features/light/definition`).send(['org.example:light:2.0.0']).expect(201);
    const feature = await api().get(`${base}/features/light`).expect(200);
    expect(feature.body.definition).toEqual(['org.example:light:2.0.0']);
    const noFeature = await api()
      .put(`${base}/features/nope/properties/x`)
      .send('1')
      .type('json')
      .expect(404);
    expect(noFeature.body.error).toBe('things:feature.notfound');
    await api()
      .put(`${base}/features/fan`)
      .send({ properties: { rpm: 900 } })
      .expect(201);
    await api().delete(`${base}/features/fan`).expect(204);
    const gone = await api().get(`${base}/features/fan`).expect(404);
    expect(gone.body.error).toBe('things:feature.notfound');
  });

  it('policyId and definition are resources of their own', async () => {
    expect((await api().get(`${base}/policyId`).expect(200)).body).toBe(ID);
    const missing = await api()
      .put(`${base}/policyId`)
      .send('"org.example:policy-a"')
      .type('json')
      .expect(404);
    expect(missing.body.error).toBe('policies:policy.notfound');
    await api()
      .put('/api/2/policies/org.example:policy-a')
      .send({
        entries: {
          OWNER: {
            subjects: { 'nginx:ditto': { type: 'test user' } },
            resources: {
              'thing:/': { grant: ['READ', 'WRITE'], revoke: [] },
              'policy:/': { grant: ['READ', 'WRITE'], revoke: [] },
            },
          },
        },
      })
      .expect(201);
    await api().put(`${base}/policyId`).send('"org.example:policy-a"').type('json').expect(204);
    expect((await api().get(`${base}/policyId`).expect(200)).body).toBe('org.example:policy-a');
    const del = await api().delete(`${base}/policyId`).expect(400);
    expect(del.body.error).toBe('things:policyId.notdeletable');
    expect((await api().get(`${base}/definition`).expect(200)).body).toBe('org.example:lamp:1.0.0');
  });

  it('PATCH merges with application/merge-patch+json; null deletes', async () => {
    await api()
      .patch(base)
      .set('Content-Type', 'application/merge-patch+json')
      .send(JSON.stringify({ attributes: { manufacturer: null, year: 2024 }, features: { energy: null } }))
      .expect(204);
    const res = await api().get(base).expect(200);
    expect(res.body.attributes).toEqual({ location: { building: 'B1', floor: 2 }, year: 2024 });
    expect(res.body.features.energy).toBeUndefined();
    await api()
      .patch(`${base}/features/light/properties`)
      .set('Content-Type', 'application/merge-patch+json')
      .send(JSON.stringify({ on: true }))
      .expect(204);
    expect((await api().get(`${base}/features/light/properties/on`)).body).toBe(true);
  });

  it('PATCH creates a thing that does not exist yet', async () => {
    const res = await api()
      .patch('/api/2/things/org.example:patched')
      .set('Content-Type', 'application/merge-patch+json')
      .send(JSON.stringify({ attributes: { a: 1, b: null } }))
      .expect(201);
    expect(res.body).toEqual({
      thingId: 'org.example:patched',
      policyId: 'org.example:patched',
      attributes: { a: 1 },
    });
  });

  it('If-Match / If-None-Match: 412 on mismatch, 304 on a matching GET, create-only with If-None-Match: *', async () => {
    const { headers } = await api().get(base).expect(200);
    const etag = headers.etag;
    await api().get(base).set('If-None-Match', etag).expect(304);
    const stale = await api()
      .put(`${base}/attributes/x`)
      .set('If-Match', '"rev:1"')
      .send('1')
      .type('json')
      .expect(412);
    expect(stale.body.error).toBe('things:precondition.failed');
    await api().put(`${base}/attributes/x`).set('If-Match', etag).send('1').type('json').expect(201);
    const exists = await api().put(base).set('If-None-Match', '*').send({}).expect(412);
    expect(exists.body.error).toBe('things:precondition.failed');
    await api().put('/api/2/things/org.example:fresh').set('If-None-Match', '*').send({}).expect(201);
    await api().put('/api/2/things/org.example:absent').set('If-Match', '*').send({}).expect(412);
  });

  it.each([
    ['keys in reverse order', { zz: 1, a: 2 }],
    ['nested keys of different lengths', { long_name: { y: 1, x: [{ b: 1, a: 2 }] }, s: true }],
    ['keys jsonb sorts by length', { ccc: 3, bb: 2, a: 1 }],
  ])(
    'a sub-resource ETag read back matches the If-Match of the next write whatever the key order (%s)',
    async (_what, value) => {
      const feature = `${base}/features/etag`;
      await api()
        .put(feature)
        .send({ properties: value })
        .expect((r) => expect([201, 204]).toContain(r.status));
      const etag = (await api().get(feature).expect(200)).headers.etag;
      await api().put(feature).set('If-Match', etag).send({ properties: value }).expect(204);
      // The tag is the value's, not the revision's: after the rewrite of the same value it still matches.
      expect((await api().get(feature).expect(200)).headers.etag).toBe(etag);
      const reordered = Object.fromEntries(Object.entries(value).reverse());
      await api()
        .put(`${feature}/properties`)
        .set('If-Match', (await api().get(`${feature}/properties`)).headers.etag)
        .send(reordered)
        .expect(204);
    },
  );

  it('POST creates with a generated id in the default namespace or ?namespace=', async () => {
    const res = await api()
      .post('/api/2/things')
      .send({ thingId: 'ignored:x', attributes: { a: 1 } })
      .expect(201);
    expect(res.body.thingId).toMatch(/^org\.eclipse\.ditto:[0-9a-f-]{36}$/);
    expect(res.headers.location).toBe(`/api/2/things/${res.body.thingId}`);
    const ns = await api().post('/api/2/things?namespace=com.acme').expect(201);
    expect(ns.body.thingId).toMatch(/^com\.acme:/);
  });

  it('GET /things?ids= returns the known things in the order asked', async () => {
    const res = await api()
      .get('/api/2/things')
      .query({ ids: `org.example:fresh,org.example:none,${ID}`, fields: 'thingId' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([{ thingId: 'org.example:fresh' }, { thingId: ID }]);
  });

  it('DELETE removes the thing; re-creating it continues its revisions', async () => {
    const before = await api().get(base).query({ fields: '_revision' }).expect(200);
    await api().delete(base).expect(204);
    const gone = await api().get(base).expect(404);
    expect(gone.body).toMatchObject({ status: 404, error: 'things:thing.notfound' });
    await api()
      .put(base)
      .send({ attributes: { again: true } })
      .expect(201);
    const after = await api().get(base).query({ fields: '_revision' }).expect(200);
    expect(after.body._revision).toBe(before.body._revision + 2);
  });

  it('every change is journaled once, with revision, action, path and origin', async () => {
    const { rows } = await t.db.query(
      `SELECT seq, revision, action, path, origin FROM journal WHERE entity = 'thing' AND thing_id = $1 ORDER BY seq`,
      [ID],
    );
    const revisions = rows.map((r) => Number(r.revision));
    expect(revisions).toEqual(revisions.map((_, i) => i + 1));
    expect(rows[0]).toMatchObject({ action: 'created', path: '/', origin: 'rest' });
    expect(rows.map((r) => r.action)).toEqual(
      expect.arrayContaining(['created', 'modified', 'merged', 'deleted']),
    );
    const { rows: things } = await t.db.query('SELECT revision FROM things WHERE thing_id = $1', [ID]);
    expect(Number(things[0].revision)).toBe(revisions.at(-1));
  });

  it('serves the OpenAPI document and health', async () => {
    const docs = await request(t.baseUrl).get('/api/docs-json').set(authHeaders()).expect(200);
    expect(Object.keys(docs.body.paths)).toEqual(
      expect.arrayContaining(['/api/2/things', '/api/2/search/things']),
    );
    const health = await request(t.baseUrl).get('/health').expect(200);
    expect(health.body.info.database.status).toBe('up');
  });
});
