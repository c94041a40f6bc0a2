import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uniqueNamespace, waitFor } from '../support/mqtt.js';
import {
  allThings,
  call,
  journalOf,
  pool,
  settled,
  startSyncPair,
  syncStatus,
  thing,
  type Json,
  type SyncPair,
} from './ditto-sync.support.js';

/**
 * Two-way sync with Eclipse Ditto, against a second platform instance standing in for Ditto
 * (Ditto's HTTP and WebSocket API), reached through a TCP relay the tests can cut. Every
 * request the sync sends is checked against Ditto's OpenAPI spec (see Upstream).
 */
const ns = uniqueNamespace('sync');
let pair: SyncPair;
let local: string;
let up: string;

beforeAll(async () => {
  // The upstream refuses things over 4 kB, so one can be made that it rejects.
  pair = await startSyncPair(ns, { THING_MAX_SIZE_BYTES: '4096' });
  local = pair.local.baseUrl;
  up = pair.upstream.baseUrl;
  await settled(pair.local);
}, 60_000);

afterAll(async () => {
  await pair?.close();
});

/** A change that must arrive upstream after everything done before it: a barrier. */
async function barrier(): Promise<void> {
  const id = `${ns}:barrier-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  await call(local, 'PUT', `/api/2/things/${id}`, { attributes: { at: Date.now() } });
  await waitFor('the barrier thing upstream', async () => (await thing(up, id)) ?? undefined, 30_000);
}

describe('sync with Ditto', () => {
  it('creates a local thing in Ditto and applies a change made in Ditto locally, without echoing it', async () => {
    const id = `${ns}:echo`;
    expect((await call(local, 'PUT', `/api/2/things/${id}`, { attributes: { a: 1 } })).status).toBe(201);
    const created = await waitFor('the thing upstream', async () => (await thing(up, id)) ?? undefined);
    expect(created).toMatchObject({ thingId: id, policyId: id, attributes: { a: 1 }, _revision: 1 });

    expect((await call(up, 'PUT', `/api/2/things/${id}/attributes/b`, 'from ditto')).status).toBe(201);
    const seen = await waitFor('the upstream change locally', async () => {
      const t = await thing(local, id);
      return (t?.attributes as Json | undefined)?.b === 'from ditto' ? t : undefined;
    });
    expect(seen?._revision).toBe(2);

    await barrier();
    expect((await thing(up, id))?._revision).toBe(2);
    expect(await journalOf(pair.upstream.db, id)).toEqual(await journalOf(pair.local.db, id));
  }, 60_000);

  it('converges 1,000 twins changed steadily on both sides, with the same revisions', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `${ns}:twin-${String(i).padStart(4, '0')}`);
    await pool(ids, 20, async (id) => {
      await call(local, 'PUT', `/api/2/things/${id}`, { features: { meter: { properties: { kwh: 0 } } } });
    });
    await waitFor(
      '1,000 twins upstream',
      async () => (await allThings(up, ns)).size >= 1000 || undefined,
      60_000,
    );
    // Local side: device readings; Ditto side: an application setting attributes. Both at once.
    const localChanges = Array.from({ length: 2000 }, (_, i) => ({ id: ids[(i * 7) % 1000], kwh: i + 1 }));
    const upstreamChanges = Array.from({ length: 1000 }, (_, i) => ({
      id: ids[(i * 13) % 1000],
      label: `l${i}`,
    }));
    await Promise.all([
      pool(localChanges, 10, async (c) => {
        const res = await call(
          local,
          'PATCH',
          `/api/2/things/${c.id}/features/meter/properties`,
          { kwh: c.kwh },
          'application/merge-patch+json',
        );
        expect(res.status).toBe(204);
      }),
      pool(upstreamChanges, 10, async (c) => {
        expect(
          (await call(up, 'PUT', `/api/2/things/${c.id}/attributes/label`, c.label)).status,
        ).toBeLessThan(300);
      }),
    ]);
    await settled(pair.local, 120_000);
    await barrier();
    const [mine, theirs] = await waitFor(
      'both sides to agree',
      async () => {
        const a = await allThings(local, ns);
        const b = await allThings(up, ns);
        return ids.every((id) => JSON.stringify(a.get(id)) === JSON.stringify(b.get(id)))
          ? [a, b]
          : undefined;
      },
      60_000,
    );
    for (const id of ids) expect(theirs.get(id)).toEqual(mine.get(id));
    const changesOf = (id: string) =>
      1 + localChanges.filter((c) => c.id === id).length + upstreamChanges.filter((c) => c.id === id).length;
    for (const id of ids) expect(mine.get(id)?._revision).toBe(changesOf(id));
    // Each side's own changes reach the other in the order they were made.
    const sample = ids[7];
    const kwhOrder = (rows: Awaited<ReturnType<typeof journalOf>>) =>
      rows.filter((r) => r.path.startsWith('/features/meter')).map((r) => JSON.stringify(r.value));
    expect(kwhOrder(await journalOf(pair.upstream.db, sample))).toEqual(
      kwhOrder(await journalOf(pair.local.db, sample)),
    );
  }, 240_000);

  it('keeps local changes while Ditto is down and delivers them in per-thing order when it is back', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `${ns}:outage-${i}`);
    for (const id of ids) await call(local, 'PUT', `/api/2/things/${id}`, { attributes: { counter: 0 } });
    await settled(pair.local);
    await pair.upstream.halt();
    for (let n = 1; n <= 10; n++) {
      await pool(ids, 10, async (id) => {
        expect((await call(local, 'PUT', `/api/2/things/${id}/attributes/counter`, n)).status).toBe(204);
      });
    }
    const during = await waitFor('the status to show the outage', async () => {
      const s = await syncStatus(pair.local);
      return s.connected === false ? s : undefined;
    });
    const backlog = during.backlog as { changes: number; oldestChangeAgeSeconds: number };
    expect(backlog.changes).toBe(200);
    expect(backlog.oldestChangeAgeSeconds).toBeGreaterThanOrEqual(0);

    await pair.upstream.resume();
    await settled(pair.local, 60_000);
    for (const id of ids) {
      expect((await thing(up, id))?.attributes).toEqual({ counter: 10 });
      const counters = (await journalOf(pair.upstream.db, id)).filter(
        (r) => r.path === '/attributes/counter',
      );
      expect(counters.map((r) => r.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
  }, 120_000);

  it('resolves edits made on both sides during an outage: the platform wins on the same path, both keep the rest', async () => {
    const id = `${ns}:conflict`;
    await call(local, 'PUT', `/api/2/things/${id}`, {
      attributes: { mode: 'initial', note: 'initial', owner: 'initial' },
    });
    await waitFor('the thing upstream', async () => (await thing(up, id)) ?? undefined);
    await settled(pair.local);

    await pair.proxy.cut();
    await waitFor(
      'the sync to notice',
      async () => (await syncStatus(pair.local)).connected === false || undefined,
    );
    await call(local, 'PUT', `/api/2/things/${id}/attributes/mode`, 'platform');
    await call(local, 'PUT', `/api/2/things/${id}/attributes/note`, 'platform note');
    await call(up, 'PUT', `/api/2/things/${id}/attributes/mode`, 'ditto');
    await call(up, 'PUT', `/api/2/things/${id}/attributes/owner`, 'ditto owner');
    await pair.proxy.open();

    const want = { mode: 'platform', note: 'platform note', owner: 'ditto owner' };
    await waitFor(
      'both sides to resolve the conflict',
      async () => {
        const [a, b] = [await thing(local, id), await thing(up, id)];
        return JSON.stringify(a?.attributes) === JSON.stringify(want) &&
          JSON.stringify(b?.attributes) === JSON.stringify(want)
          ? true
          : undefined;
      },
      60_000,
    );
  }, 120_000);

  it('reports a thing Ditto refuses in the status while the others keep syncing', async () => {
    const big = `${ns}:too-big`;
    const fine = `${ns}:fine`;
    await call(local, 'PUT', `/api/2/things/${big}`, { attributes: { blob: 'x'.repeat(8000) } });
    await call(local, 'PUT', `/api/2/things/${fine}`, { attributes: { ok: true } });
    await waitFor('the fine thing upstream', async () => (await thing(up, fine)) ?? undefined);
    const status = await waitFor('the refusal in the status', async () => {
      const s = await syncStatus(pair.local);
      const failing = s.failing as { things: Json[] };
      return failing.things.some((t) => t.thingId === big) ? s : undefined;
    });
    const entry = (status.failing as { things: Json[] }).things.find((t) => t.thingId === big);
    // Ditto's own error code and message, not 'unknown'.
    expect(entry).toMatchObject({
      thingId: big,
      status: 413,
      revision: 1,
      error: 'things:thing.toolarge',
      message: expect.stringContaining('exceeds the maximal allowed Thing size'),
    });
    expect(await thing(up, big)).toBeNull();
    await call(local, 'PUT', `/api/2/things/${fine}/attributes/ok`, 'still');
    await waitFor(
      'later changes of other things',
      async () => ((await thing(up, fine))?.attributes as Json).ok === 'still' || undefined,
    );
  }, 60_000);
});
