import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { HttpAnswerInterceptor } from '../../src/common/http-answer.interceptor.js';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';
import { authHeaders, TEST_USERS, type TestUserName } from '../support/auth.js';

/**
 * The plain GET of a thing and of a search are answered by middleware (HTTP_DIRECT_READS, on by
 * default) instead of Nest's routes. A client must not be able to tell: the same requests go to a
 * platform with it on and one with it off (same things, same policies), and every answer — body,
 * status, the headers a client reads, errors included — must be the same. Which path answered
 * shows in whether the routes' interceptor ran.
 */

const NS = 'org.direct';
const subjects = (...users: TestUserName[]) =>
  Object.fromEntries(users.map((u) => [TEST_USERS[u].subject, { type: 'test' }]));
const OWNER = {
  subjects: subjects('ditto'),
  resources: {
    'thing:/': { grant: ['READ', 'WRITE'], revoke: [] },
    'policy:/': { grant: ['READ', 'WRITE'], revoke: [] },
  },
};
/** alice reads these things except one attribute. */
const PARTIAL = {
  OWNER,
  READER: {
    subjects: subjects('alice'),
    resources: {
      'thing:/': { grant: ['READ'], revoke: [] },
      'thing:/attributes/secret': { grant: [], revoke: ['READ'] },
    },
  },
};

let direct: TestApp;
let routed: TestApp;
const intercepted = jest.spyOn(HttpAnswerInterceptor.prototype, 'intercept');

beforeAll(async () => {
  [direct, routed] = await Promise.all([startTestApp(), startTestApp({ HTTP_DIRECT_READS: 'false' })]);
  for (const t of [direct, routed]) {
    const api = dittoHttp(t.baseUrl);
    await api.put(`/api/2/policies/${NS}:partial`).send({ entries: PARTIAL }).expect(201);
    for (let k = 0; k < 6; k++) {
      await api
        .put(`/api/2/things/${NS}:meter-${k}`)
        .send({
          ...(k % 2 === 1 ? { policyId: `${NS}:partial` } : {}),
          attributes: { building: k < 4 ? 'B1' : 'B2', secret: `s${k}` },
          features: { energy: { properties: { power: 10 * k } } },
        })
        .expect(201);
    }
  }
});
afterAll(async () => {
  await Promise.all([direct?.close(), routed?.close()]);
});

interface Seen {
  status: number;
  body: unknown;
  headers: Record<string, string | null>;
  /** The routes' interceptor ran. */
  routed: boolean;
}

const HEADERS = ['content-type', 'content-length', 'etag', 'correlation-id', 'www-authenticate'];

async function get(
  t: TestApp,
  path: string,
  user: TestUserName | null,
  headers: Record<string, string>,
): Promise<Seen> {
  intercepted.mockClear();
  const res = await fetch(`${t.baseUrl}${path}`, {
    headers: { ...(user ? authHeaders(user) : {}), ...headers },
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
    headers: Object.fromEntries(HEADERS.map((h) => [h, res.headers.get(h)])),
    routed: intercepted.mock.calls.length > 0,
  };
}

let requests = 0;

/** The same request to both platforms: the answers must be equal. */
async function both(
  path: string,
  /** null: no credentials. */
  user: TestUserName | null = 'ditto',
  headers: Record<string, string> = {},
): Promise<{ answer: Omit<Seen, 'routed'>; directly: boolean }> {
  // Without one, each platform would make up its own correlation-id.
  const sent = { 'correlation-id': `c-${++requests}`, ...headers };
  const a = await get(direct, path, user, sent);
  const b = await get(routed, path, user, sent);
  const { routed: aRouted, ...answer } = a;
  const { routed: bRouted, ...expected } = b;
  expect(answer).toEqual(expected);
  // With HTTP_DIRECT_READS=false every read goes through the routes (an error may leave before).
  if (expected.status === 200) expect(bRouted).toBe(true);
  return { answer, directly: !aRouted };
}

const search = (filter: string, option?: string, extra = '') =>
  `/api/2/search/things?filter=${encodeURIComponent(filter)}${option ? `&option=${encodeURIComponent(option)}` : ''}${extra}`;

describe('the direct reads answer as the routes do', () => {
  it('a whole thing, its ETag and the correlation-id, directly', async () => {
    const { answer, directly } = await both(`/api/2/things/${NS}:meter-2`, 'ditto', {
      'correlation-id': 'direct-1',
    });
    expect(directly).toBe(true);
    expect(answer.status).toBe(200);
    expect(answer.headers.etag).toBe('"rev:1"');
    expect(answer.headers['correlation-id']).toBe('direct-1');
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.body).toMatchObject({ thingId: `${NS}:meter-2`, attributes: { building: 'B1' } });
  });

  it('selected fields, and a thing read in part without what its policy revokes', async () => {
    const fields = await both(`/api/2/things/${NS}:meter-1?fields=thingId,features/energy`);
    expect(fields.directly).toBe(true);
    expect(fields.answer.body).toEqual({
      thingId: `${NS}:meter-1`,
      features: { energy: { properties: { power: 10 } } },
    });
    const part = await both(`/api/2/things/${NS}:meter-1`, 'alice');
    expect(part.directly).toBe(true);
    expect(part.answer.body).toMatchObject({ attributes: { building: 'B1' } });
    expect((part.answer.body as { attributes: object }).attributes).not.toHaveProperty('secret');
  });

  it('errors: not found, not visible, a bad id, bad fields, no credentials', async () => {
    const missing = await both(`/api/2/things/${NS}:nothing`);
    expect(missing.directly).toBe(true);
    expect(missing.answer.status).toBe(404);
    expect(missing.answer.body).toMatchObject({ error: 'things:thing.notfound' });
    const hidden = await both(`/api/2/things/${NS}:meter-2`, 'alice');
    expect(hidden.answer.status).toBe(404);
    const badId = await both('/api/2/things/no-namespace');
    expect(badId.directly).toBe(true);
    expect(badId.answer.status).toBe(400);
    const badFields = await both(`/api/2/things/${NS}:meter-2?fields=${encodeURIComponent('a((')}`);
    expect(badFields.answer.status).toBe(400);
    const anonymous = await both(`/api/2/things/${NS}:meter-2`, null);
    expect(anonymous.answer.status).toBe(401);
    expect(anonymous.answer.headers['www-authenticate']).toMatch(/^Basic/);
  });

  it('searches, sorted and paged by cursor, for the owner and for a reader in part', async () => {
    const first = await both(
      search('eq(attributes/building,"B1")', 'sort(-features/energy/properties/power),size(2)'),
    );
    expect(first.directly).toBe(true);
    const page = first.answer.body as { items: { thingId: string }[]; cursor: string };
    expect(page.items.map((i) => i.thingId)).toEqual([`${NS}:meter-3`, `${NS}:meter-2`]);
    const second = await both(
      search(
        'eq(attributes/building,"B1")',
        `sort(-features/energy/properties/power),size(2),cursor(${page.cursor})`,
      ),
    );
    expect((second.answer.body as { items: { thingId: string }[] }).items.map((i) => i.thingId)).toEqual([
      `${NS}:meter-1`,
      `${NS}:meter-0`,
    ]);
    const alice = await both(search('eq(attributes/building,"B1")', undefined, `&namespaces=${NS}`), 'alice');
    expect((alice.answer.body as { items: { thingId: string }[] }).items.map((i) => i.thingId)).toEqual([
      `${NS}:meter-1`,
      `${NS}:meter-3`,
    ]);
    // A filter on what alice may not read never reveals a thing.
    const secret = await both(search('eq(attributes/secret,"s1")'), 'alice');
    expect(secret.answer.body).toEqual({ items: [] });
  });

  it('search errors: a bad filter, a bad option', async () => {
    const filter = await both(search('eq(attributes/building'));
    expect(filter.directly).toBe(true);
    expect(filter.answer.status).toBe(400);
    expect(filter.answer.body).toMatchObject({ error: 'rql.expression.invalid' });
    const option = await both(search('exists(thingId)', 'size(0)'));
    expect(option.answer.status).toBe(400);
  });
});

describe('the routes keep every other read', () => {
  it('a precondition, a sub-resource, a Thing Description, a parameter the plain form lacks', async () => {
    const thing = `/api/2/things/${NS}:meter-2`;
    const notModified = await both(thing, 'ditto', { 'if-none-match': '"rev:1"' });
    expect(notModified).toMatchObject({ directly: false, answer: { status: 304 } });
    const sub = await both(`${thing}/attributes`);
    expect(sub).toMatchObject({
      directly: false,
      answer: { status: 200, body: { building: 'B1', secret: 's2' } },
    });
    const td = await both(thing, 'ditto', { accept: 'application/td+json' });
    expect(td).toMatchObject({ directly: false, answer: { status: 400 } });
    const timeout = await both(`${thing}?timeout=5s`);
    expect(timeout).toMatchObject({ directly: false, answer: { status: 200 } });
    const count = await both(`/api/2/search/things/count?filter=${encodeURIComponent('exists(thingId)')}`);
    expect(count).toMatchObject({ directly: false, answer: { status: 200, body: 6 } });
  });
});
