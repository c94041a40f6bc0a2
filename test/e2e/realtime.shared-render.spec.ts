import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dittoHttp, startTestApp, type TestApp } from '../support/app.js';
import type { TestUserName } from '../support/auth.js';
import { DittoSocket, SseClient, until, type DittoMessage } from './realtime.support.js';

/**
 * Subscribers that ask for the same events render them once and share the bytes (event-stream.ts).
 * Sharing must never cross permissions: clients with the same subscription but different read
 * rights each get exactly what they may read, and a client's own changes stay out of its stream
 * while a sibling of the same shape gets them.
 */
const NS = 'org.shared';
const THING = `${NS}:t1`;
const SUBSCRIPTION = `START-SEND-EVENTS?namespaces=${NS}&extraFields=attributes`;
const SSE_QUERY = `namespaces=${NS}&fields=thingId,attributes&extraFields=attributes`;

let t: TestApp;
const as = (user: TestUserName) => dittoHttp(t.baseUrl, user);
const wsUrl = () => `${t.baseUrl.replace('http', 'ws')}/ws/2`;

beforeAll(async () => {
  t = await startTestApp();
  await as('ditto')
    .put(`/api/2/policies/${THING}`)
    .send({
      entries: {
        OWNER: {
          subjects: { 'nginx:ditto': { type: 'test' } },
          resources: {
            'thing:/': { grant: ['READ', 'WRITE'], revoke: [] },
            'policy:/': { grant: ['READ', 'WRITE'], revoke: [] },
          },
        },
        // alice reads the thing except one attribute; bob is not named at all.
        READER: {
          subjects: { 'nginx:alice': { type: 'test' } },
          resources: {
            'thing:/': { grant: ['READ'], revoke: [] },
            'thing:/attributes/secret': { grant: [], revoke: ['READ'] },
          },
        },
      },
    })
    .expect(201);
  await as('ditto')
    .put(`/api/2/things/${THING}`)
    .send({ policyId: THING, attributes: { public: 1, secret: 's0' } })
    .expect(201);
});

afterAll(async () => {
  await t?.close();
});

const attributeEvents = (c: DittoSocket): DittoMessage[] =>
  c.events.filter((e) => e.topic === `${NS}/t1/things/twin/events/modified` || e.topic.endsWith('/merged'));

describe('shared renderings', () => {
  it('clients subscribed alike with different read rights each see exactly what they may', async () => {
    const dittoA = await DittoSocket.open(wsUrl(), {}, 'ditto');
    const dittoB = await DittoSocket.open(wsUrl(), {}, 'ditto');
    const aliceA = await DittoSocket.open(wsUrl(), {}, 'alice');
    const aliceB = await DittoSocket.open(wsUrl(), {}, 'alice');
    const bob = await DittoSocket.open(wsUrl(), {}, 'bob');
    const sockets = [dittoA, dittoB, aliceA, aliceB, bob];
    for (const s of sockets) await s.control(SUBSCRIPTION);
    const dittoSse = await SseClient.open(`${t.baseUrl}/api/2/things?${SSE_QUERY}`, {}, 'ditto');
    const aliceSse = await SseClient.open(`${t.baseUrl}/api/2/things?${SSE_QUERY}`, {}, 'alice');

    await as('ditto')
      .put(`/api/2/things/${THING}/attributes/secret`)
      .set('content-type', 'application/json')
      .send(JSON.stringify('hidden-1'))
      .expect(204);
    await as('ditto')
      .patch(`/api/2/things/${THING}`)
      .set('content-type', 'application/merge-patch+json')
      .send({ attributes: { public: 2, secret: 'hidden-2' } })
      .expect(204);
    // A change made over one of ditto's sockets: that socket does not get it back, its twin does.
    const own = await dittoA.command({
      topic: `${NS}/t1/things/twin/commands/modify`,
      path: '/attributes/public',
      value: 'from-a',
    });
    expect(own.status).toBe(204);
    await as('ditto')
      .put(`/api/2/things/${THING}/attributes/public`)
      .set('content-type', 'application/json')
      .send(JSON.stringify('marker'))
      .expect(204);

    for (const s of [dittoA, dittoB, aliceA, aliceB]) {
      await until('the marker over WS', () => s.events.some((e) => e.value === 'marker'));
    }
    for (const s of [dittoSse, aliceSse]) {
      await until('the marker over SSE', () => s.events.some((e) => e.data.includes('marker')));
    }

    // ditto reads everything: the secret's change, the whole merge, the secret among the extra fields.
    for (const s of [dittoA, dittoB]) {
      const events = attributeEvents(s);
      expect(events.some((e) => e.path === '/attributes/secret' && e.value === 'hidden-1')).toBe(true);
      expect(events.find((e) => e.topic.endsWith('/merged'))?.value).toEqual({
        attributes: { public: 2, secret: 'hidden-2' },
      });
      expect(events.find((e) => e.value === 'marker')?.extra).toEqual({
        attributes: { public: 'marker', secret: 'hidden-2' },
      });
    }
    expect(dittoA.events.some((e) => e.value === 'from-a')).toBe(false);
    expect(dittoB.events.some((e) => e.value === 'from-a')).toBe(true);

    // alice: not the secret's change at all, the merge and the extra fields without the secret.
    for (const s of [aliceA, aliceB]) {
      const events = attributeEvents(s);
      expect(JSON.stringify(s.messages)).not.toContain('hidden');
      expect(events.some((e) => e.path === '/attributes/secret')).toBe(false);
      expect(events.find((e) => e.topic.endsWith('/merged'))?.value).toEqual({ attributes: { public: 2 } });
      expect(events.find((e) => e.value === 'marker')?.extra).toEqual({ attributes: { public: 'marker' } });
      expect(events.some((e) => e.value === 'from-a')).toBe(true);
    }
    expect(aliceA.events).toEqual(aliceB.events);

    // SSE, same fields for both: the secret only in ditto's stream.
    expect(dittoSse.events.some((e) => e.data.includes('hidden-2'))).toBe(true);
    expect(aliceSse.events.some((e) => e.data.includes('"public":2'))).toBe(true);
    expect(JSON.stringify(aliceSse.events)).not.toContain('hidden');

    // bob may read nothing of the thing: its events reached everyone else, none reached him.
    expect(bob.events).toEqual([]);

    for (const s of sockets) await s.close();
    for (const s of [dittoSse, aliceSse]) s.close();
  });
});
