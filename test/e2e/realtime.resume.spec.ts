import { authContext } from '../../src/auth/auth-context.js';
import { testUser } from '../support/auth.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TwinCommand } from '../../src/twins/twin.types.js';
import { TwinsService } from '../../src/twins/twins.service.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { DittoSocket, SseClient, until, type DittoMessage } from './realtime.support.js';

/**
 * Resume without gaps: a client cut off in the middle of 5,000 changes across 50 things comes back
 * with the last event id it saw and gets every change exactly once, in order per thing.
 */
const THINGS = 50;
const ROUNDS = 100;
/** The 5,000 changes plus the 50 creations. */
const TOTAL = THINGS * (ROUNDS + 1);
let t: TestApp;
let twins: TwinsService;

beforeAll(async () => {
  t = await startTestApp();
  twins = t.app.get(TwinsService);
});
afterAll(async () => {
  await t.close();
});

const ids = (ns: string) => Array.from({ length: THINGS }, (_, i) => `${ns}:t-${i}`);

async function createThings(ns: string): Promise<void> {
  await twins.applyMany(
    ids(ns).map((thingId): TwinCommand => ({
      type: 'modify',
      thingId,
      path: [],
      value: { attributes: { n: 0 } },
      origin: 'rest',
      // Created by the signed-in test user: the default policies let the subscribers see them.
      auth: authContext([testUser().subject]),
    })),
  );
}

/** Round r sets attributes/n = r on every thing, in one transaction. */
async function writeRounds(ns: string, from: number, to: number): Promise<void> {
  for (let r = from; r <= to; r++) {
    await twins.applyMany(
      ids(ns).map((thingId): TwinCommand => ({
        type: 'modify',
        thingId,
        path: ['attributes', 'n'],
        value: r,
        origin: 'system',
      })),
    );
  }
}

/** Each thing's values in arrival order, and the event ids in arrival order. */
function check(received: { thingId: string; n: unknown; id: string }[]): void {
  expect(received).toHaveLength(TOTAL);
  const seqs = received.map((r) => BigInt(r.id));
  for (let i = 1; i < seqs.length; i++) expect(seqs[i] > seqs[i - 1]).toBe(true);
  const perThing = new Map<string, unknown[]>();
  for (const r of received) perThing.set(r.thingId, [...(perThing.get(r.thingId) ?? []), r.n]);
  const expected = Array.from({ length: ROUNDS + 1 }, (_, i) => i);
  expect(perThing.size).toBe(THINGS);
  for (const values of perThing.values()) expect(values).toEqual(expected);
}

describe('resume', () => {
  it('WebSocket: reconnecting with from-event-id delivers every change once, in order', async () => {
    const ns = 'org.resume-ws';
    const first = await DittoSocket.open(`ws://${t.domain}/ws/2`);
    await first.control(`START-SEND-EVENTS?namespaces=${ns}`);
    await createThings(ns);
    await writeRounds(ns, 1, ROUNDS / 2);
    await until('part of the changes', () => first.events.length >= TOTAL / 4);
    first.ws.terminate();
    // What the client had processed when it was cut off: everything after it comes from the journal.
    const seen = first.events.slice(0, TOTAL / 4);
    const lastId = String(seen[seen.length - 1].headers['event-id']);

    // The rest is written while the second connection replays the journal and goes live.
    const rest = writeRounds(ns, ROUNDS / 2 + 1, ROUNDS);
    const second = await DittoSocket.open(`ws://${t.domain}/ws/2`);
    await second.control(`START-SEND-EVENTS?namespaces=${ns}&from-event-id=${lastId}`);
    await rest;
    await until('all changes', () => seen.length + second.events.length >= TOTAL);
    const all = [...seen, ...second.events].map((e: DittoMessage) => ({
      thingId: e.topic.split('/').slice(0, 2).join(':'),
      n: e.path === '/' ? (e.value as { attributes: { n: number } }).attributes.n : e.value,
      id: String(e.headers['event-id']),
    }));
    check(all);
    expect(second.events[0].headers['event-id']).not.toBe(lastId);
    await second.close();
  });

  it('SSE: reconnecting with Last-Event-ID delivers every change once, in order', async () => {
    const ns = 'org.resume-sse';
    // Subscribed once the response has begun: the server subscribes before it sends the headers.
    const first = await SseClient.open(
      `${t.baseUrl}/api/2/things?namespaces=${ns}&fields=thingId,attributes/n`,
    );
    await createThings(ns);
    await writeRounds(ns, 1, ROUNDS / 2);
    await until('part of the changes', () => first.events.length >= TOTAL / 4);
    first.close();
    const seen = first.events.slice(0, TOTAL / 4);
    const lastId = seen[seen.length - 1].id!;

    const rest = writeRounds(ns, ROUNDS / 2 + 1, ROUNDS);
    const second = await SseClient.open(
      `${t.baseUrl}/api/2/things?namespaces=${ns}&fields=thingId,attributes/n`,
      {
        'Last-Event-ID': lastId,
      },
    );
    await rest;
    await until('all changes', () => seen.length + second.events.length >= TOTAL);
    const all = [...seen, ...second.events].map((e) => {
      const data = JSON.parse(e.data) as { thingId: string; attributes: { n: number } };
      return { thingId: data.thingId, n: data.attributes.n, id: e.id! };
    });
    check(all);
    second.close();
  });
});
