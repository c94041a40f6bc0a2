import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';

let t: TestApp;
let ditto: ReturnType<typeof dittoHttp>;
let bob: ReturnType<typeof dittoHttp>;

beforeAll(async () => {
  t = await startTestApp();
  ditto = dittoHttp(t.baseUrl, 'ditto');
  bob = dittoHttp(t.baseUrl, 'bob');
});
afterAll(async () => {
  await t.close();
});

const rw = { grant: ['READ', 'WRITE'], revoke: [] };
const admin = {
  subjects: { 'nginx:ditto': { type: 'admin' } },
  resources: { 'policy:/': rw, 'thing:/': rw },
};
const reader = {
  subjects: { 'nginx:bob': { type: 'reader' } },
  resources: {
    'policy:/entries/READER': { grant: ['READ'], revoke: [] },
    'thing:/': { grant: ['READ'], revoke: [] },
  },
};

describe('policies API', () => {
  it('creates, reads, modifies sub-resources with ETags and deletes', async () => {
    const created = await ditto
      .put('/api/2/policies/e2e:p1')
      .send({ entries: { ADMIN: admin } })
      .expect(201);
    expect(created.headers.location).toBe('/api/2/policies/e2e:p1');
    expect(created.headers.etag).toBe('"rev:1"');
    const got = await ditto.get('/api/2/policies/e2e:p1').expect(200);
    expect(got.body).toEqual({ policyId: 'e2e:p1', entries: { ADMIN: admin } });

    await ditto.put('/api/2/policies/e2e:p1/entries/READER').send(reader).expect(201);
    await ditto.put('/api/2/policies/e2e:p1/entries/READER').send(reader).expect(204);
    const res = await ditto.get('/api/2/policies/e2e:p1/entries/READER/resources/thing:/').expect(200);
    expect(res.body).toEqual({ grant: ['READ'], revoke: [] });
    await ditto
      .put('/api/2/policies/e2e:p1/entries/READER/resources/thing:%2Ffeatures%2Fx')
      .send({ grant: [], revoke: ['READ'] })
      .expect(201);
    const subjects = await ditto.get('/api/2/policies/e2e:p1/entries/READER/subjects').expect(200);
    await ditto
      .put('/api/2/policies/e2e:p1/entries/READER/subjects')
      .set('If-Match', '"hash:wrong"')
      .send({})
      .expect(412)
      .expect((r) => expect(r.body.error).toBe('policies:precondition.failed'));
    await ditto
      .get('/api/2/policies/e2e:p1/entries/READER/subjects')
      .set('If-None-Match', subjects.headers.etag)
      .expect(304);
    await ditto.delete('/api/2/policies/e2e:p1/entries/READER/subjects/nginx:bob').expect(204);
    await ditto
      .get('/api/2/policies/e2e:p1/entries/READER/subjects/nginx:bob')
      .expect(404)
      .expect((r) => expect(r.body.error).toBe('policies:subject.notfound'));
    const journal = await t.db.query(
      `SELECT revision, action, path FROM journal WHERE entity = 'policy' AND thing_id = 'e2e:p1' ORDER BY revision`,
    );
    expect(journal.rows.map((r) => [Number(r.revision), r.action, r.path])).toEqual([
      [1, 'created', '/'],
      [2, 'created', '/entries/READER'],
      [3, 'modified', '/entries/READER'],
      [4, 'created', '/entries/READER/resources/thing:/features/x'],
      [5, 'deleted', '/entries/READER/subjects/nginx:bob'],
    ]);
    await ditto.delete('/api/2/policies/e2e:p1').expect(204);
    await ditto.get('/api/2/policies/e2e:p1').expect(404);
  });

  it('a reader sees only its readable part and cannot change anything', async () => {
    await ditto
      .put('/api/2/policies/e2e:p2')
      .send({ entries: { ADMIN: admin, READER: reader } })
      .expect(201);
    const seen = await bob.get('/api/2/policies/e2e:p2').expect(200);
    expect(seen.body).toEqual({ policyId: 'e2e:p2', entries: { READER: reader } });
    await bob
      .put('/api/2/policies/e2e:p2/entries/READER/subjects/nginx:bob')
      .send({ type: 'x' })
      .expect(403)
      .expect((r) => expect(r.body.error).toBe('policies:subject.notmodifiable'));
    await bob
      .delete('/api/2/policies/e2e:p2/entries/ADMIN')
      .expect(404)
      .expect((r) => expect(r.body.error).toBe('policies:entry.notfound'));
    const after = await ditto.get('/api/2/policies/e2e:p2').expect(200);
    expect(after.headers.etag).toBe('"rev:1"');
  });

  it('refuses a lock-out and invalid input with Ditto error codes', async () => {
    await ditto
      .put('/api/2/policies/e2e:p2/entries/ADMIN')
      .send({ subjects: {}, resources: {} })
      .expect(403)
      .expect((r) => expect(r.body.error).toBe('policies:entry.modificationinvalid'));
    await ditto
      .put('/api/2/policies/e2e:p3')
      .send({ entries: { R: reader } })
      .expect(403)
      .expect((r) => expect(r.body.error).toBe('policies:policy.modificationinvalid'));
    await ditto
      .put('/api/2/policies/e2e:p3')
      .send({ entries: { importedX: admin } })
      .expect(400)
      .expect((r) => expect(r.body.error).toBe('policies:label.invalid'));
    await ditto
      .put('/api/2/policies/e2e:p3')
      .send({ entries: { A: { ...admin, resources: { 'thing:/': { grant: ['FLY'] } } } } })
      .expect(400)
      .expect((r) => expect(r.body.error).toBe('policies:entry.invalid'));
  });

  it('checks permissions and merges imported entries', async () => {
    await ditto
      .put('/api/2/policies/e2e:lib')
      .send({ entries: { ADMIN: admin, SHARED: { ...reader, importable: 'implicit' } } })
      .expect(201);
    await ditto
      .put('/api/2/policies/e2e:user')
      .send({ entries: { ADMIN: admin }, imports: { 'e2e:lib': {} } })
      .expect(201);
    const check = await bob
      .post('/api/2/checkPermissions')
      .send({
        read: { resource: 'policy:/entries/ADMIN', entityId: 'e2e:lib', hasPermissions: ['READ'] },
        write: { resource: 'policy:/', entityId: 'e2e:lib', hasPermissions: ['WRITE'] },
      })
      .expect(200);
    expect(check.body).toEqual({ read: false, write: false });
    const own = await ditto
      .post('/api/2/checkPermissions')
      .send({ w: { resource: 'policy:/', entityId: 'e2e:user', hasPermissions: ['READ', 'WRITE'] } })
      .expect(200);
    expect(own.body).toEqual({ w: true });
    const readers = await t.db.query(
      `SELECT subject, reads_all FROM policy_readers WHERE policy_id = 'e2e:user' ORDER BY subject`,
    );
    expect(readers.rows).toEqual([
      { subject: 'nginx:bob', reads_all: true },
      { subject: 'nginx:ditto', reads_all: true },
    ]);
  });
});
