import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { TEST_USERS, type TestUserName } from '../support/auth.js';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';
import { DittoSocket, feedCaughtUp, SseClient, until, type DittoMessage } from './realtime.support.js';

/**
 * A thing's history over `/ws/2` with Ditto's streaming subscription protocol
 * (subscribeForPersistedEvents → created, request → next…, complete | failed; cancel), enforced
 * like live events; and Ditto's `_context` of each event on SSE `fields`.
 */
let t: TestApp;
const sockets: DittoSocket[] = [];

/** Short enough to see a subscription time out, long enough for the other tests' pauses. */
const IDLE_MS = 3000;

beforeAll(async () => {
  t = await startTestApp({ WS_STREAMING_IDLE_TIMEOUT_MS: String(IDLE_MS) });
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await t.close();
});

const api = (user: TestUserName = 'ditto') => dittoHttp(t.baseUrl, user);
const url = (id: string, path = '') => `/api/2/things/${id}${path}`;

async function socket(user: TestUserName = 'ditto'): Promise<DittoSocket> {
  const s = await DittoSocket.open(`ws://${t.domain}/ws/2`, {}, user);
  sockets.push(s);
  return s;
}

/** Frames of one streaming subscription (by the subscribe command's correlation id). */
function framesOf(s: DittoSocket, correlationId: string): DittoMessage[] {
  return s.messages.filter((m) => m.headers['correlation-id'] === correlationId);
}

const kind = (m: DittoMessage) => m.topic.split('/').pop();

async function subscribe(
  s: DittoSocket,
  thingId: string,
  value: Record<string, unknown>,
): Promise<{ id: string; cid: string; frames: () => DittoMessage[] }> {
  const cid = randomUUID();
  const [ns, name] = thingId.split(':');
  s.send(
    JSON.stringify({
      topic: `${ns}/${name}/things/twin/streaming/subscribeForPersistedEvents`,
      headers: { 'correlation-id': cid },
      path: '/',
      value,
    }),
  );
  await until('created', () => framesOf(s, cid).some((m) => kind(m) === 'created'));
  const created = framesOf(s, cid).find((m) => kind(m) === 'created')!;
  expect(created.topic).toBe(`${ns}/${name}/things/twin/streaming/created`);
  const id = (created.value as { subscriptionId: string }).subscriptionId;
  expect(typeof id).toBe('string');
  return { id, cid, frames: () => framesOf(s, cid) };
}

function command(s: DittoSocket, thingId: string, action: 'request' | 'cancel', value: unknown): void {
  const [ns, name] = thingId.split(':');
  s.send(
    JSON.stringify({ topic: `${ns}/${name}/things/twin/streaming/${action}`, headers: {}, path: '/', value }),
  );
}

const items = (frames: DittoMessage[]) =>
  frames
    .filter((m) => kind(m) === 'next')
    .map((m) => (m.value as { item: DittoMessage }).item)
    .map((i) => ({ action: i.topic.split('/').pop(), path: i.path, value: i.value, revision: i.revision }));

describe('streaming subscription of a thing history over /ws/2', () => {
  const ID = 'org.histws:lamp';

  beforeAll(async () => {
    await api()
      .put(url(ID))
      .send({ attributes: { n: 1 } })
      .expect(201); // 1
    for (let n = 2; n <= 6; n++) {
      await api()
        .put(url(ID, '/attributes/n'))
        .set('content-type', 'application/json')
        .send(String(n))
        .expect(204);
    }
  });

  it('sends created, then as many next as requested, then complete', async () => {
    const s = await socket();
    const sub = await subscribe(s, ID, { fromHistoricalRevision: 2, toHistoricalRevision: 4 });
    // Nothing but created before the client asks for anything.
    await new Promise((ok) => setTimeout(ok, 200));
    expect(sub.frames().map(kind)).toEqual(['created']);

    command(s, ID, 'request', { subscriptionId: sub.id, demand: 1 });
    await until('one next', () => sub.frames().length === 2);
    await new Promise((ok) => setTimeout(ok, 200));
    // Demand 1: exactly one item, and the subscription waits for more.
    expect(sub.frames().map(kind)).toEqual(['created', 'next']);

    command(s, ID, 'request', { subscriptionId: sub.id, demand: 10 });
    await until('complete', () => sub.frames().some((m) => kind(m) === 'complete'));
    expect(sub.frames().map(kind)).toEqual(['created', 'next', 'next', 'next', 'complete']);
    expect(items(sub.frames())).toEqual([
      { action: 'modified', path: '/attributes/n', value: 2, revision: 2 },
      { action: 'modified', path: '/attributes/n', value: 3, revision: 3 },
      { action: 'modified', path: '/attributes/n', value: 4, revision: 4 },
    ]);
    const next = sub.frames().find((m) => kind(m) === 'next')!;
    expect(next.topic).toBe('org.histws/lamp/things/twin/streaming/next');
    expect((next.value as { subscriptionId: string }).subscriptionId).toBe(sub.id);
    expect((next.value as { item: DittoMessage }).item.topic).toBe(
      'org.histws/lamp/things/twin/events/modified',
    );
    const complete = sub.frames().find((m) => kind(m) === 'complete')!;
    expect(complete.value).toEqual({ subscriptionId: sub.id });
  });

  it('without options streams the whole history up to the current revision; filters with RQL', async () => {
    const s = await socket();
    const all = await subscribe(s, ID, {});
    command(s, ID, 'request', { subscriptionId: all.id, demand: 100 });
    await until('complete', () => all.frames().some((m) => kind(m) === 'complete'));
    expect(items(all.frames()).map((i) => i.revision)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(items(all.frames())[0]).toMatchObject({ action: 'created', path: '/', revision: 1 });

    const filtered = await subscribe(s, ID, { fromHistoricalRevision: -3, filter: 'gt(attributes/n,4)' });
    command(s, ID, 'request', { subscriptionId: filtered.id, demand: 100 });
    await until('complete', () => filtered.frames().some((m) => kind(m) === 'complete'));
    expect(items(filtered.frames()).map((i) => i.value)).toEqual([5, 6]);
  });

  it('streams by timestamps', async () => {
    const { rows } = await t.db.query<{ ts: Date }>(
      `SELECT ts FROM journal WHERE entity = 'thing' AND thing_id = $1 AND revision IN (3, 5) ORDER BY revision`,
      [ID],
    );
    const s = await socket();
    const sub = await subscribe(s, ID, {
      fromHistoricalTimestamp: rows[0].ts.toISOString(),
      toHistoricalTimestamp: rows[1].ts.toISOString(),
    });
    command(s, ID, 'request', { subscriptionId: sub.id, demand: 100 });
    await until('complete', () => sub.frames().some((m) => kind(m) === 'complete'));
    expect(items(sub.frames()).map((i) => i.revision)).toEqual([3, 4, 5]);
  });

  it('cancel stops the subscription; requests for it are then refused', async () => {
    const s = await socket();
    const sub = await subscribe(s, ID, { fromHistoricalRevision: 1 });
    command(s, ID, 'request', { subscriptionId: sub.id, demand: 2 });
    await until('two items', () => items(sub.frames()).length === 2);
    command(s, ID, 'cancel', { subscriptionId: sub.id });
    command(s, ID, 'request', { subscriptionId: sub.id, demand: 10 });
    await until('the refusal', () => s.messages.some((m) => kind(m) === 'failed'));
    const failed = s.messages.find((m) => kind(m) === 'failed')!;
    expect(failed.value).toMatchObject({
      subscriptionId: sub.id,
      error: { status: 404, error: 'streaming.subscription.not.found' },
    });
    expect(items(sub.frames())).toHaveLength(2);
    expect(sub.frames().some((m) => kind(m) === 'complete')).toBe(false);
  });

  it('fails a subscription that is not asked for more within the idle timeout, as Ditto', async () => {
    const s = await socket();
    const sub = await subscribe(s, ID, {});
    command(s, ID, 'request', { subscriptionId: sub.id, demand: 1 });
    await until('one item', () => items(sub.frames()).length === 1);
    await until('the timeout', () => sub.frames().some((m) => kind(m) === 'failed'), IDLE_MS * 10);
    const failed = sub.frames().find((m) => kind(m) === 'failed')!;
    expect(failed.value).toMatchObject({
      subscriptionId: sub.id,
      error: { status: 408, error: 'streaming.subscription.timeout' },
    });
    expect(items(sub.frames())).toHaveLength(1);
  });

  it('bounds the subscriptions open on one connection', async () => {
    const s = await socket();
    for (let i = 0; i < 16; i++) await subscribe(s, ID, {});
    const extra = await subscribe(s, ID, {});
    command(s, ID, 'request', { subscriptionId: extra.id, demand: 1 });
    await until('failed', () => extra.frames().some((m) => kind(m) === 'failed'));
    expect(extra.frames()[1].value).toMatchObject({
      error: { status: 400, error: 'streaming.subscription.protocol.error' },
    });
    expect(items(extra.frames())).toEqual([]);
  });

  it('fails a subscription on a demand that is not a positive integer', async () => {
    const s = await socket();
    const sub = await subscribe(s, ID, {});
    command(s, ID, 'request', { subscriptionId: sub.id, demand: 0 });
    await until('failed', () => sub.frames().some((m) => kind(m) === 'failed'));
    const failed = sub.frames().find((m) => kind(m) === 'failed')!;
    expect(failed.value).toMatchObject({
      error: { status: 400, error: 'streaming.subscription.protocol.error' },
    });
  });

  it('fails with Ditto errors after the first request: unknown thing, revision beyond the history, bad option', async () => {
    const s = await socket();
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['org.histws:nope', {}, 404, 'things:thing.notfound'],
      [ID, { fromHistoricalRevision: 99 }, 404, 'things:thing.history.notfound'],
      [ID, { fromHistoricalRevision: 'one' }, 400, 'streaming.subscription.protocol.error'],
    ];
    for (const [thingId, value, status, error] of cases) {
      const sub = await subscribe(s, thingId, value);
      await new Promise((ok) => setTimeout(ok, 100));
      expect(sub.frames().map(kind)).toEqual(['created']);
      command(s, thingId, 'request', { subscriptionId: sub.id, demand: 1 });
      await until('failed', () => sub.frames().some((m) => kind(m) === 'failed'));
      expect(sub.frames().map(kind)).toEqual(['created', 'failed']);
      expect(sub.frames()[1].value).toMatchObject({ subscriptionId: sub.id, error: { status, error } });
    }
  });

  it('where the journal no longer holds a revision, fails with things:thing.history.notfound', async () => {
    const GONE = 'org.histws:pruned';
    await api()
      .put(url(GONE))
      .send({ attributes: { n: 1 } })
      .expect(201);
    for (let n = 2; n <= 4; n++) {
      await api()
        .put(url(GONE, '/attributes/n'))
        .set('content-type', 'application/json')
        .send(String(n))
        .expect(204);
    }
    // What the retention (JOURNAL_RETENTION_DAYS) leaves of an old history: its newest rows.
    await t.db.query(`DELETE FROM journal WHERE entity = 'thing' AND thing_id = $1 AND revision < 3`, [GONE]);
    const s = await socket();
    const old = await subscribe(s, GONE, { fromHistoricalRevision: 1 });
    command(s, GONE, 'request', { subscriptionId: old.id, demand: 10 });
    await until('failed', () => old.frames().some((m) => kind(m) === 'failed'));
    expect(old.frames()[1].value).toMatchObject({
      error: { status: 404, error: 'things:thing.history.notfound' },
    });
    expect(items(old.frames())).toEqual([]);

    // From the start, the history that is left.
    const kept = await subscribe(s, GONE, { fromHistoricalRevision: 0 });
    command(s, GONE, 'request', { subscriptionId: kept.id, demand: 10 });
    await until('complete', () => kept.frames().some((m) => kind(m) === 'complete'));
    expect(items(kept.frames()).map((i) => i.revision)).toEqual([3, 4]);
  });
});

describe('enforcement as for live events', () => {
  const POLICY = 'org.histws:policy';
  const ID = 'org.histws:guarded';
  const subject = (name: TestUserName) => ({ [TEST_USERS[name].subject]: { type: 'test' } });

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
    await api()
      .put(url(ID, '/features/secret/properties/pin'))
      .set('content-type', 'application/json')
      .send('4321')
      .expect(204);
  });

  it('gives a partial reader only what it may read, cut, and leaves out the rest', async () => {
    const s = await socket('alice');
    const sub = await subscribe(s, ID, {});
    command(s, ID, 'request', { subscriptionId: sub.id, demand: 100 });
    await until('complete', () => sub.frames().some((m) => kind(m) === 'complete'));
    const got = items(sub.frames());
    // Revision 3 changed only the secret feature: alice gets no event of it.
    expect(got.map((i) => i.revision)).toEqual([1, 2]);
    expect(got[0].value).toEqual({ thingId: ID, policyId: POLICY, attributes: { a: 1 } });
    expect(JSON.stringify(sub.frames())).not.toContain('pin');
  });

  it("cuts an SSE event's _context/value to what the subscriber may read", async () => {
    // A stream starts at the feed's head: let it pass the earlier changes first.
    await feedCaughtUp(t.app);
    const sse = await SseClient.open(
      `${t.baseUrl}/api/2/things?ids=${ID}&fields=thingId,_context`,
      {},
      'alice',
    );
    try {
      await api()
        .patch(url(ID))
        .set('content-type', 'application/merge-patch+json')
        .send({ attributes: { a: 3 }, features: { secret: { properties: { pin: 1111 } } } })
        .expect(204);
      await until('the event', () => sse.events.length === 1);
      const context = (JSON.parse(sse.events[0].data) as { _context: DittoMessage })._context;
      expect(context.topic).toBe('org.histws/guarded/things/twin/events/merged');
      expect(context.value).toEqual({ attributes: { a: 3 } });
      expect(sse.events[0].data).not.toContain('pin');
    } finally {
      sse.close();
    }
  });

  it('tells a subject without any grant that the thing does not exist', async () => {
    const s = await socket('bob');
    const sub = await subscribe(s, ID, {});
    command(s, ID, 'request', { subscriptionId: sub.id, demand: 100 });
    await until('failed', () => sub.frames().some((m) => kind(m) === 'failed'));
    expect(sub.frames()[1].value).toMatchObject({ error: { status: 404, error: 'things:thing.notfound' } });
  });
});

describe("SSE fields with Ditto's _context", () => {
  const ID = 'org.histws:context';

  it('carries topic, path, value and headers of each event as asked for, also in history', async () => {
    await api()
      .put(url(ID))
      .send({ attributes: { n: 1 } })
      .expect(201);
    await feedCaughtUp(t.app);
    const live = await SseClient.open(
      `${t.baseUrl}/api/2/things?ids=${ID}&fields=thingId,_revision,_context/topic,_context/path,_context/value`,
    );
    try {
      await api().put(url(ID, '/attributes/n')).set('content-type', 'application/json').send('2').expect(204);
      await until('the event', () => live.events.length === 1);
      expect(JSON.parse(live.events[0].data)).toEqual({
        thingId: ID,
        _revision: 2,
        _context: {
          topic: 'org.histws/context/things/twin/events/modified',
          path: '/attributes/n',
          value: 2,
        },
      });
    } finally {
      live.close();
    }
    await api().delete(url(ID, '/attributes/n')).expect(204);
    const history = await SseClient.open(
      `${t.baseUrl}/api/2/things/${ID}?from-historical-revision=1&to-historical-revision=3&fields=thingId,_context`,
    );
    await until('the history to end', () => history.ended);
    const contexts = history.events.map((e) => (JSON.parse(e.data) as { _context: DittoMessage })._context);
    expect(contexts.map((c) => [c.topic, c.path, c.value])).toEqual([
      [
        'org.histws/context/things/twin/events/created',
        '/',
        { thingId: ID, policyId: ID, attributes: { n: 1 } },
      ],
      ['org.histws/context/things/twin/events/modified', '/attributes/n', 2],
      // As in Ditto, a deletion's value is null.
      ['org.histws/context/things/twin/events/deleted', '/attributes/n', null],
    ]);
    expect(contexts[1].headers).toMatchObject({ 'content-type': 'application/json' });
    expect(typeof contexts[1].headers['correlation-id']).toBe('string');
  });
});
