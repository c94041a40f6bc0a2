import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';
import { TEST_USERS, type TestUserName } from '../support/auth.js';
import { DittoSocket, SseClient, until } from './realtime.support.js';

/**
 * The permission table: who may read and write what, by Ditto's policy semantics (basic-policy.md,
 * "Grant and Revoke some Permission"; httpapi-concepts: a thing one may not read is "not found"),
 * checked on every entry point — REST reads and writes, search and count, WebSocket and SSE
 * events, and WebSocket commands. Users: ditto (owner of everything here), alice, bob.
 */

const NS = 'org.perm';
const doc = {
  attributes: { public: 1, secret: 's' },
  features: { lamp: { properties: { on: false } }, meter: { properties: { power: 5 } } },
};
const full = (...subjects: string[]) => ({
  subjects: Object.fromEntries(subjects.map((s) => [s, { type: 'test' }])),
  resources: {
    'thing:/': { grant: ['READ', 'WRITE'], revoke: [] },
    'policy:/': { grant: ['READ', 'WRITE'], revoke: [] },
    'message:/': { grant: ['READ', 'WRITE'], revoke: [] },
  },
});
const subjectsOf = (name: keyof typeof TEST_USERS) => ({ [TEST_USERS[name].subject]: { type: 'test' } });

/** One policy per row of the table, each governing one thing of the same name. */
const POLICIES: Record<string, Record<string, unknown>> = {
  // alice reads everything, writes nothing.
  'p-read': {
    OWNER: full('nginx:ditto'),
    READER: { subjects: subjectsOf('alice'), resources: { 'thing:/': { grant: ['READ'], revoke: [] } } },
  },
  // alice reads all but one attribute, and may switch the lamp.
  'p-revoke': {
    OWNER: full('nginx:ditto'),
    READER: {
      subjects: subjectsOf('alice'),
      resources: {
        'thing:/': { grant: ['READ'], revoke: [] },
        'thing:/attributes/secret': { grant: [], revoke: ['READ'] },
        'thing:/features/lamp/properties/on': { grant: ['WRITE'], revoke: [] },
      },
    },
  },
  // alice sees only the lamp (and the thing id).
  'p-partial': {
    OWNER: full('nginx:ditto'),
    LAMP: {
      subjects: subjectsOf('alice'),
      resources: { 'thing:/features/lamp': { grant: ['READ'], revoke: [] } },
    },
  },
  // bob's entry applies to another namespace only.
  'p-elsewhere': {
    OWNER: full('nginx:ditto'),
    BOB: {
      subjects: subjectsOf('bob'),
      resources: { 'thing:/': { grant: ['READ', 'WRITE'], revoke: [] } },
      namespaces: ['org.other'],
    },
  },
  // One entry grants alice everything on the thing, another revokes writing attributes.
  'p-two': {
    OWNER: full('nginx:ditto'),
    GRANT: {
      subjects: subjectsOf('alice'),
      resources: { 'thing:/': { grant: ['READ', 'WRITE'], revoke: [] } },
    },
    REVOKE: {
      subjects: subjectsOf('alice'),
      resources: { 'thing:/attributes': { grant: [], revoke: ['WRITE'] } },
    },
  },
};

let t: TestApp;
const as = (user: TestUserName) => dittoHttp(t.baseUrl, user);
const id = (name: string) => `${NS}:${name}`;
const url = (name: string, path = '') => `/api/2/things/${id(name)}${path}`;

beforeAll(async () => {
  t = await startTestApp();
  for (const [name, entries] of Object.entries(POLICIES)) {
    await as('ditto')
      .put(`/api/2/policies/${id(name)}`)
      .send({ entries })
      .expect(201);
    await as('ditto')
      .put(url(name))
      .send({ policyId: id(name), ...doc })
      .expect(201);
  }
});

afterAll(async () => {
  await t?.close();
});

describe('REST reads', () => {
  it.each<[string, TestUserName, string, string, number, unknown]>([
    [
      'a reader reads the whole thing',
      'alice',
      'p-read',
      '',
      200,
      { thingId: id('p-read'), policyId: id('p-read'), ...doc },
    ],
    [
      'a subject without any grant is told the thing does not exist',
      'bob',
      'p-read',
      '',
      404,
      'things:thing.notfound',
    ],
    ['a revoked attribute is cut from the thing', 'alice', 'p-revoke', '/attributes', 200, { public: 1 }],
    [
      'a revoked attribute itself is not found',
      'alice',
      'p-revoke',
      '/attributes/secret',
      404,
      'things:attribute.notfound',
    ],
    [
      'a grant below the top shows that part only',
      'alice',
      'p-partial',
      '',
      200,
      {
        thingId: id('p-partial'),
        policyId: id('p-partial'),
        features: { lamp: { properties: { on: false } } },
      },
    ],
    [
      'outside the partial grant is not found',
      'alice',
      'p-partial',
      '/attributes',
      404,
      'things:attributes.notfound',
    ],
    ['inside the partial grant reads', 'alice', 'p-partial', '/features/lamp/properties/on', 200, false],
    [
      'an entry for another namespace grants nothing here',
      'bob',
      'p-elsewhere',
      '',
      404,
      'things:thing.notfound',
    ],
    ['the owner reads everything', 'ditto', 'p-revoke', '/attributes', 200, { public: 1, secret: 's' }],
    [
      'a partial reader does not see a thing of a revoked part by a write grant',
      'bob',
      'p-revoke',
      '/features',
      404,
      'things:thing.notfound',
    ],
  ])('%s', async (_what, user, name, path, status, expected) => {
    const res = await as(user).get(url(name, path)).expect(status);
    if (status === 200) expect(res.body).toEqual(expected);
    else expect(res.body.error).toBe(expected);
  });

  it('GET ?ids= leaves out unreadable things and cuts the others', async () => {
    const ids = Object.keys(POLICIES).map(id).join(',');
    const res = await as('alice').get(`/api/2/things?ids=${ids}`).expect(200);
    const byId = Object.fromEntries((res.body as { thingId: string }[]).map((x) => [x.thingId, x]));
    expect(Object.keys(byId).sort()).toEqual([id('p-partial'), id('p-read'), id('p-revoke'), id('p-two')]);
    expect(byId[id('p-revoke')]).toMatchObject({ attributes: { public: 1 } });
    expect((byId[id('p-revoke')] as unknown as { attributes: object }).attributes).not.toHaveProperty(
      'secret',
    );
  });

  it('field selection cannot reach a revoked field', async () => {
    const res = await as('alice')
      .get(url('p-revoke'))
      .query({ fields: 'thingId,attributes/secret' })
      .expect(200);
    expect(res.body.thingId).toBe(id('p-revoke'));
    expect(res.body.attributes?.secret).toBeUndefined();
  });
});

describe('REST writes', () => {
  it.each<[string, TestUserName, 'put' | 'patch' | 'delete', string, string, unknown, number, string]>([
    [
      'READ does not imply WRITE',
      'alice',
      'put',
      'p-read',
      '/attributes/x',
      1,
      403,
      'things:attribute.notmodifiable',
    ],
    [
      'no grant at all: not found rather than forbidden',
      'bob',
      'put',
      'p-read',
      '/attributes/x',
      1,
      404,
      'things:thing.notfound',
    ],
    [
      'a WRITE grant on one property permits it',
      'alice',
      'put',
      'p-revoke',
      '/features/lamp/properties/on',
      true,
      204,
      '',
    ],
    [
      'a WRITE grant on one property does not reach its sibling',
      'alice',
      'put',
      'p-revoke',
      '/features/lamp/properties/dim',
      1,
      403,
      'things:feature.property.notmodifiable',
    ],
    [
      'a merge only into writable paths is permitted',
      'alice',
      'patch',
      'p-revoke',
      '',
      { features: { lamp: { properties: { on: false } } } },
      204,
      '',
    ],
    [
      'a merge touching a non-writable path is refused',
      'alice',
      'patch',
      'p-revoke',
      '',
      { attributes: { public: 2 } },
      403,
      'things:thing.notmodifiable',
    ],
    [
      'deleting the thing needs WRITE on all of it',
      'alice',
      'delete',
      'p-revoke',
      '',
      undefined,
      403,
      'things:thing.notmodifiable',
    ],
    [
      "a grant from one entry writes outside the other entry's revoke",
      'alice',
      'put',
      'p-two',
      '/features/meter/properties/power',
      7,
      204,
      '',
    ],
    [
      'a revoke in another entry wins over a grant above it',
      'alice',
      'put',
      'p-two',
      '/attributes/public',
      2,
      403,
      'things:attribute.notmodifiable',
    ],
    [
      'a revoke below the top makes the top not unrestricted',
      'alice',
      'delete',
      'p-two',
      '',
      undefined,
      403,
      'things:thing.notmodifiable',
    ],
    ['the owner may write anything', 'ditto', 'put', 'p-two', '/attributes/owner', 'ditto', 201, ''],
  ])('%s', async (_what, user, method, name, path, body, status, code) => {
    const before = (await as('ditto').get(url(name)).query({ fields: '_revision' }).expect(200)).body as {
      _revision: number;
    };
    const req = as(user)[method](url(name, path));
    req.set('content-type', method === 'patch' ? 'application/merge-patch+json' : 'application/json');
    const res = await (body === undefined ? req : req.send(JSON.stringify(body))).expect(status);
    const after = (await as('ditto').get(url(name)).query({ fields: '_revision' }).expect(200)).body as {
      _revision: number;
    };
    if (code) {
      expect(res.body.error).toBe(code);
      expect(after._revision).toBe(before._revision);
    } else {
      expect(after._revision).toBe(before._revision + 1);
    }
  });

  it('creating a thing that links a policy one may not write is refused', async () => {
    const res = await as('bob')
      .put(url('bob-own'))
      .send({ policyId: id('p-read') })
      .expect(403);
    expect(res.body.error).toBe('things:thing.notcreatable');
    await as('ditto').get(url('bob-own')).expect(404);
  });

  it("creating a thing without a policy creates Ditto's default policy for the creator", async () => {
    await as('alice').put(url('alice-own')).send(doc).expect(201);
    const policy = await as('alice')
      .get(`/api/2/policies/${id('alice-own')}`)
      .expect(200);
    expect(policy.body.entries.DEFAULT.subjects).toHaveProperty('nginx:alice');
    expect(policy.body.entries.DEFAULT.resources['thing:/'].grant).toEqual(['READ', 'WRITE']);
    await as('bob').get(url('alice-own')).expect(404);
    await as('ditto').get(url('alice-own')).expect(404);
  });

  it('an inline _policy is honoured on creation', async () => {
    const entries = { ...POLICIES['p-read'] };
    await as('ditto')
      .put(url('inline'))
      .send({ _policy: { entries }, ...doc })
      .expect(201);
    await as('alice').get(url('inline')).expect(200);
    await as('alice')
      .put(url('inline', '/attributes/x'))
      .send('1')
      .set('content-type', 'application/json')
      .expect(403);
  });

  it('deleting a thing keeps its policy', async () => {
    await as('alice').put(url('short-lived')).send({}).expect(201);
    await as('alice').delete(url('short-lived')).expect(204);
    await as('alice')
      .get(`/api/2/policies/${id('short-lived')}`)
      .expect(200);
  });
});

describe('search and count', () => {
  const search = (user: TestUserName, query: Record<string, string>) =>
    as(user)
      .get('/api/2/search/things')
      .query({ namespaces: NS, ...query })
      .expect(200);
  const idsOf = (res: { body: { items: { thingId: string }[] } }) =>
    res.body.items.map((i) => i.thingId).sort();

  it('returns only readable things, cut to what is readable', async () => {
    const res = await search('alice', { filter: `like(thingId,"${NS}:p-*")` });
    expect(idsOf(res)).toEqual([id('p-partial'), id('p-read'), id('p-revoke'), id('p-two')]);
    const partial = res.body.items.find((i: { thingId: string }) => i.thingId === id('p-partial'));
    expect(partial).toEqual({
      thingId: id('p-partial'),
      policyId: id('p-partial'),
      features: { lamp: { properties: { on: false } } },
    });
  });

  it('a subject with no grants finds nothing', async () => {
    expect(idsOf(await search('bob', {}))).toEqual([]);
  });

  it('a filter on a field the subject may not read does not reveal it', async () => {
    const res = await search('alice', { filter: `and(eq(attributes/secret,"s"),like(thingId,"${NS}:p-*"))` });
    expect(idsOf(res)).toEqual([id('p-read'), id('p-two')]);
  });

  it('a negated filter on an unreadable field does not reveal it either', async () => {
    const res = await search('alice', {
      filter: 'and(like(thingId,"org.perm:p-*"),not(exists(attributes/secret)))',
    });
    expect(idsOf(res)).toEqual([]);
  });

  it('sorting by an unreadable field leaves out the things it would order', async () => {
    const res = await search('alice', {
      filter: `like(thingId,"${NS}:p-*")`,
      option: 'sort(+attributes/secret)',
    });
    expect(idsOf(res)).toEqual([id('p-read'), id('p-two')]);
  });

  it('count agrees with search, for partial readers too', async () => {
    const count = async (user: TestUserName, filter: string) =>
      Number(
        (await as(user).get('/api/2/search/things/count').query({ namespaces: NS, filter }).expect(200)).text,
      );
    expect(await count('alice', `like(thingId,"${NS}:p-*")`)).toBe(4);
    expect(await count('alice', `and(eq(attributes/secret,"s"),like(thingId,"${NS}:p-*"))`)).toBe(2);
    expect(await count('alice', 'eq(features/lamp/properties/on,false)')).toBeGreaterThanOrEqual(3);
    expect(await count('bob', `like(thingId,"${NS}:p-*")`)).toBe(0);
    expect(await count('ditto', `like(thingId,"${NS}:p-*")`)).toBe(5);
  });
});

describe('events over WebSocket and SSE, and WebSocket commands', () => {
  const wsUrl = () => `${t.baseUrl.replace('http', 'ws')}/ws/2`;

  it('delivers only readable changes, cut to what is readable', async () => {
    const aliceWs = await DittoSocket.open(wsUrl(), {}, 'alice');
    const bobWs = await DittoSocket.open(wsUrl(), {}, 'bob');
    // Alice also asks for `_metadata`: the times of leaves she may not read must not reach her either.
    const aliceSse = await SseClient.open(
      `${t.baseUrl}/api/2/things?namespaces=${NS}&fields=thingId,attributes,features,_metadata`,
      {},
      'alice',
    );
    const bobSse = await SseClient.open(`${t.baseUrl}/api/2/things?namespaces=${NS}`, {}, 'bob');
    await aliceWs.control(`START-SEND-EVENTS?namespaces=${NS}&extraFields=_metadata`);
    await bobWs.control(`START-SEND-EVENTS?namespaces=${NS}`);
    const put = (name: string, path: string, value: unknown) =>
      as('ditto').put(url(name, path)).send(JSON.stringify(value)).set('content-type', 'application/json');

    await put('p-revoke', '/attributes/secret', 'hidden-1').expect(204);
    await as('ditto')
      .patch(url('p-revoke'))
      .set('content-type', 'application/merge-patch+json')
      .send({ attributes: { public: 3, secret: 'hidden-2' } })
      .expect(204);
    await put('p-partial', '/attributes/public', 'not-for-alice').expect(204);
    await put('p-partial', '/features/lamp/properties/on', true).expect(204);
    await put('p-read', '/attributes/public', 'marker').expect(204);

    await until('alice gets the marker over WS', () => aliceWs.events.some((e) => e.value === 'marker'));
    await until('alice gets the marker over SSE', () =>
      aliceSse.events.some((e) => e.data.includes('marker')),
    );
    const wsText = JSON.stringify(aliceWs.events);
    const sseText = JSON.stringify(aliceSse.events);
    for (const text of [wsText, sseText]) {
      expect(text).not.toContain('hidden-1');
      expect(text).not.toContain('hidden-2');
      expect(text).not.toContain('not-for-alice');
    }
    // The merge reached alice with its readable part only.
    const merged = aliceWs.events.find(
      (e) => e.topic.endsWith('/merged') && e.headers['event-id'] !== undefined,
    );
    expect(merged?.value).toEqual({ attributes: { public: 3 } });
    const mergedTimes = (merged?.extra as { _metadata: { attributes: Record<string, unknown> } })._metadata;
    expect(mergedTimes.attributes).toEqual({ public: { ts: expect.any(String) } });
    const sseMerged = aliceSse.events
      .map((e) => JSON.parse(e.data) as { attributes?: { public?: unknown }; _metadata?: unknown })
      .find((e) => e.attributes?.public === 3);
    expect(sseMerged?._metadata).toEqual({ attributes: { public: mergedTimes.attributes.public } });
    expect(aliceWs.events.some((e) => e.path === '/features/lamp/properties/on' && e.value === true)).toBe(
      true,
    );
    expect(aliceSse.events.some((e) => e.data.includes('"public":3'))).toBe(true);

    // bob may read none of these things: a change he may read arrives, nothing else did before it.
    await as('ditto')
      .put(`/api/2/policies/${id('bob-marker')}`)
      .send({ entries: { OWNER: full('nginx:ditto', 'nginx:bob') } })
      .expect(201);
    await as('ditto')
      .put(url('bob-marker'))
      .send({ policyId: id('bob-marker') })
      .expect(201);
    await put('bob-marker', '/attributes/seen', 'bob-marker').expect(201);
    await until('bob gets his marker over WS', () => bobWs.events.some((e) => e.value === 'bob-marker'));
    await until('bob gets his marker over SSE', () =>
      bobSse.events.some((e) => e.data.includes('bob-marker')),
    );
    expect(bobWs.events.every((e) => e.topic.startsWith(`${NS}/bob-marker/`))).toBe(true);
    expect(bobSse.events.every((e) => e.data.includes(id('bob-marker')))).toBe(true);

    for (const c of [aliceWs, bobWs]) await c.close();
    for (const c of [aliceSse, bobSse]) c.close();
  });

  it('enforces commands like REST', async () => {
    const ws = await DittoSocket.open(wsUrl(), {}, 'alice');
    const bob = await DittoSocket.open(wsUrl(), {}, 'bob');
    const write = await ws.command({
      topic: `${NS}/p-read/things/twin/commands/modify`,
      path: '/attributes/x',
      value: 1,
    });
    expect(write.status).toBe(403);
    expect((write.value as { error: string }).error).toBe('things:attribute.notmodifiable');
    const hidden = await bob.command({ topic: `${NS}/p-read/things/twin/commands/retrieve`, path: '/' });
    expect(hidden.status).toBe(404);
    const cut = await ws.command({
      topic: `${NS}/p-revoke/things/twin/commands/retrieve`,
      path: '/attributes',
    });
    expect(cut.status).toBe(200);
    expect(cut.value).toEqual({ public: 3 });
    await ws.close();
    await bob.close();
  });
});

describe('policy events over WebSocket and SSE', () => {
  const wsUrl = () => `${t.baseUrl.replace('http', 'ws')}/ws/2`;
  const PEV = id('policy-events');
  const entries = {
    OWNER: full('nginx:ditto'),
    // alice may read the whole policy, bob only its PUBLIC entry.
    AUDIT: { subjects: subjectsOf('alice'), resources: { 'policy:/': { grant: ['READ'], revoke: [] } } },
    PUBLIC: {
      subjects: subjectsOf('bob'),
      resources: { 'policy:/entries/PUBLIC': { grant: ['READ'], revoke: [] } },
    },
  };
  const seen = new Map<string, { ws: DittoSocket; sse: SseClient }>();

  beforeAll(async () => {
    for (const user of ['ditto', 'alice', 'bob'] as const) {
      const ws = await DittoSocket.open(wsUrl(), {}, user);
      await ws.control(`START-SEND-POLICY-EVENTS?namespaces=${NS}`);
      const sse = await SseClient.open(`${t.baseUrl}/api/2/policies?namespaces=${NS}`, {}, user);
      seen.set(user, { ws, sse });
    }
    await as('ditto').put(`/api/2/policies/${PEV}`).send({ entries }).expect(201);
    await as('ditto')
      .put(`/api/2/policies/${PEV}/entries/OWNER/subjects/nginx:ops`)
      .send({ type: 'ops-marker' })
      .expect(201);
    await as('ditto')
      .put(`/api/2/policies/${PEV}/entries/PUBLIC/subjects/nginx:guest`)
      .send({ type: 'public-marker' })
      .expect(201);
    await as('ditto').delete(`/api/2/policies/${PEV}`).expect(204);
    // Each stream is its own connection: wait until every one of them has had the deletion
    // (the last change), so a slow one cannot look like a missing event.
    const sseCount = { ditto: 4, alice: 4, bob: 3 } as const;
    for (const user of ['ditto', 'alice', 'bob'] as const) {
      await until(`${user} sees the deletion over WS and SSE`, () => {
        const { ws, sse } = seen.get(user)!;
        return (
          ws.messages.some((m) => m.topic.endsWith('/policies/events/deleted')) &&
          sse.events.length >= sseCount[user]
        );
      });
    }
  });

  afterAll(async () => {
    for (const { ws, sse } of seen.values()) {
      await ws.close();
      sse.close();
    }
  });

  const wsEvents = (user: TestUserName) =>
    seen.get(user)!.ws.messages.filter((m) => m.topic.startsWith(`${NS}/policy-events/policies/events/`));
  const sseText = (user: TestUserName) =>
    seen
      .get(user)!
      .sse.events.map((e) => e.data)
      .join('\n');

  it.each<[string, TestUserName, 'ws' | 'sse', string[], string[]]>([
    [
      'the owner gets every change of the policy over WS',
      'ditto',
      'ws',
      ['created', 'created', 'created', 'deleted'],
      [],
    ],
    [
      'a subject with READ on policy:/ gets every change over WS',
      'alice',
      'ws',
      ['created', 'created', 'created', 'deleted'],
      [],
    ],
    [
      'a subject reading one entry gets only that entry’s changes over WS',
      'bob',
      'ws',
      // A deletion of the whole policy is news to everyone who could read a part of it.
      ['created', 'created', 'deleted'],
      ['ops-marker', 'AUDIT'],
    ],
    ['the owner gets every change over SSE', 'ditto', 'sse', ['ops-marker', 'public-marker'], []],
    [
      'a subject with READ on policy:/ gets every change over SSE',
      'alice',
      'sse',
      ['ops-marker', 'public-marker'],
      [],
    ],
    [
      'a partial reader gets the readable part only over SSE',
      'bob',
      'sse',
      ['public-marker'],
      ['ops-marker', 'AUDIT'],
    ],
  ])('%s', (_what, user, transport, expected, hidden) => {
    if (transport === 'ws') {
      expect(wsEvents(user).map((m) => m.topic.split('/').pop())).toEqual(expected);
      const text = JSON.stringify(wsEvents(user));
      for (const h of hidden) expect(text).not.toContain(h);
    } else {
      const text = sseText(user);
      for (const e of expected) expect(text).toContain(e);
      for (const h of hidden) expect(text).not.toContain(h);
    }
  });

  it('a partial reader resuming after the deletion gets the changes it could read, judged by the policy as deleted', async () => {
    // From just after the creation: the policy is gone by now, so only the journal's record of
    // what was deleted can say bob could read its PUBLIC entry then.
    const created = seen.get('ditto')!.sse.events[0].id!;
    const resumed = await SseClient.open(
      `${t.baseUrl}/api/2/policies?namespaces=${NS}`,
      { 'Last-Event-ID': created },
      'bob',
    );
    try {
      await until('bob’s readable change and the deletion, replayed', () => resumed.events.length >= 2);
      const text = resumed.events.map((e) => e.data).join('\n');
      expect(text).toContain('public-marker');
      expect(text).not.toContain('ops-marker');
      expect(text).not.toContain('AUDIT');
    } finally {
      resumed.close();
    }
  });

  it('a subject without any READ on the policy gets none of its events', async () => {
    await as('ditto')
      .put(`/api/2/policies/${id('policy-events-2')}`)
      .send({ entries: { OWNER: full('nginx:ditto') } })
      .expect(201);
    await until('the owner sees the second policy', () =>
      seen.get('ditto')!.ws.messages.some((m) => m.topic.startsWith(`${NS}/policy-events-2/`)),
    );
    for (const user of ['alice', 'bob'] as const) {
      expect(seen.get(user)!.ws.messages.some((m) => m.topic.startsWith(`${NS}/policy-events-2/`))).toBe(
        false,
      );
      expect(sseText(user)).not.toContain(id('policy-events-2'));
    }
  });
});

describe('telemetry history and operator endpoints', () => {
  const history = (name: string, feature: string, property: string) =>
    url(name, `/features/${feature}/properties/${property}/history`);

  it.each<[string, TestUserName, string, string, string, number]>([
    ['a reader of the thing reads a property’s history', 'alice', 'p-read', 'meter', 'power', 200],
    ['a subject without READ is told the history does not exist', 'bob', 'p-read', 'meter', 'power', 404],
    ['a partial reader reads the history inside the grant', 'alice', 'p-partial', 'lamp', 'on', 200],
    ['a partial reader gets no history outside the grant', 'alice', 'p-partial', 'meter', 'power', 404],
  ])('%s', async (_what, user, name, feature, property, status) => {
    const res = await as(user)
      .get(history(name, feature, property))
      .expect(status);
    if (status === 404) expect(res.body.error).toBe('things:feature.property.notfound');
    else expect(res.body).toMatchObject({ thingId: id(name), featureId: feature, points: [] });
  });

  it.each<[string, TestUserName, string, number]>([
    ['the operator reads the ingest counters', 'ditto', '/api/2/ingest/stats', 200],
    ['another user may not read the ingest counters', 'alice', '/api/2/ingest/stats', 403],
    ['another user may not read the dead letters', 'bob', '/api/2/ingest/dead-letters', 403],
    ['another user may not read the sync status', 'alice', '/api/2/sync/ditto', 403],
  ])('%s', async (_what, user, path, status) => {
    // Platform additions, outside Ditto's spec: plain requests, signed in as the user.
    const { username, password } = TEST_USERS[user];
    const res = await request(t.baseUrl).get(path).auth(username, password).expect(status);
    if (status === 403) expect(res.body.error).toBe('gateway:authorization.insufficient');
  });
});
