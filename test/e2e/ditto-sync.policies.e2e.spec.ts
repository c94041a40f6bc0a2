import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authHeaders, TEST_USERS, type TestUserName } from '../support/auth.js';
import { uniqueNamespace, waitFor } from '../support/mqtt.js';
import {
  call,
  settled,
  startSyncPair,
  syncStatus,
  thing,
  type Json,
  type SyncPair,
} from './ditto-sync.support.js';

/**
 * Policies synced with Eclipse Ditto both ways, against the second platform standing in for
 * Ditto. Ditto streams no policy events to the sync's WebSocket, so changes made there arrive
 * by the sync reading the policies it tracks (on every reconnect and every POLICY_POLL_MS).
 */
const ns = uniqueNamespace('syncpol');
let pair: SyncPair;
let local: string;
let up: string;

beforeAll(async () => {
  pair = await startSyncPair(ns);
  local = pair.local.baseUrl;
  up = pair.upstream.baseUrl;
  await settled(pair.local);
}, 60_000);

afterAll(async () => {
  await pair?.close();
});

const all = { grant: ['READ', 'WRITE'], revoke: [] };
const owner = {
  subjects: { [TEST_USERS.ditto.subject]: { type: 'owner' } },
  resources: { 'thing:/': all, 'policy:/': all, 'message:/': all },
};
const reader = (user: TestUserName) => ({
  subjects: { [TEST_USERS[user].subject]: { type: 'reader' } },
  resources: { 'thing:/': { grant: ['READ'], revoke: [] } },
});

async function policy(base: string, id: string): Promise<Json | null> {
  const res = await call(base, 'GET', `/api/2/policies/${id}?fields=policyId,entries,imports,_revision`);
  return res.status === 200 ? (res.body as Json) : null;
}

/** A read as another test user than the sync's. */
async function readAs(user: TestUserName, base: string, id: string): Promise<number> {
  const res = await fetch(`${base}/api/2/things/${id}`, { headers: authHeaders(user) });
  await res.arrayBuffer();
  return res.status;
}

const entriesOf = (p: Json | null) => p?.entries as Json | undefined;

describe('policies synced with Ditto', () => {
  it('gives Ditto a new thing together with its own policy, not a default one', async () => {
    const id = `${ns}:pump`;
    const body = { _policy: { entries: { OWNER: owner, BOB: reader('bob') } }, attributes: { a: 1 } };
    expect((await call(local, 'PUT', `/api/2/things/${id}`, body)).status).toBe(201);

    const upThing = await waitFor('the thing in Ditto', async () => (await thing(up, id)) ?? undefined);
    expect(upThing).toMatchObject({ thingId: id, policyId: id, attributes: { a: 1 } });
    const upPolicy = await policy(up, id);
    expect(entriesOf(upPolicy)).toEqual(entriesOf(await policy(local, id)));
    expect(Object.keys(entriesOf(upPolicy) ?? {}).sort()).toEqual(['BOB', 'OWNER']);
    // Created in Ditto as ours, before the thing: Ditto never made a default policy for it.
    const { rows } = await pair.upstream.db.query<{ value: { entries: Json } }>(
      `SELECT value FROM journal WHERE entity = 'policy' AND thing_id = $1 AND revision = 1`,
      [id],
    );
    expect(Object.keys(rows[0].value.entries).sort()).toEqual(['BOB', 'OWNER']);
    // Ditto enforces it: bob reads there, alice does not.
    expect(await readAs('bob', up, id)).toBe(200);
    expect(await readAs('alice', up, id)).toBe(404);
  }, 60_000);

  it('gives Ditto the policy of a new thing even from a namespace not synced otherwise', async () => {
    // Only the thing's lane brings this policy over (its own journal row is out of scope), so
    // without the policy going first Ditto would make a default policy for the thing.
    const policyId = `${uniqueNamespace('syncpolother')}:gauges`;
    const id = `${ns}:gauge`;
    const body = { policyId, _policy: { entries: { OWNER: owner, BOB: reader('bob') } } };
    expect((await call(local, 'PUT', `/api/2/things/${id}`, body)).status).toBe(201);

    await waitFor('the thing in Ditto', async () => (await thing(up, id)) ?? undefined);
    expect(entriesOf(await policy(up, policyId))).toEqual(entriesOf(await policy(local, policyId)));
    const { rows } = await pair.upstream.db.query<{ value: { entries: Json } }>(
      `SELECT value FROM journal WHERE entity = 'policy' AND thing_id = $1 AND revision = 1`,
      [policyId],
    );
    expect(Object.keys(rows[0].value.entries).sort()).toEqual(['BOB', 'OWNER']);
    expect(await readAs('bob', up, id)).toBe(200);

    // Linked by a synced thing, the policy is synced from now on.
    const path = `/api/2/policies/${policyId}/entries/ALICE`;
    expect((await call(local, 'PUT', path, reader('alice'))).status).toBe(201);
    await waitFor('alice reading in Ditto', async () =>
      (await readAs('alice', up, id)) === 200 ? true : undefined,
    );
  }, 60_000);

  it('sends a policy entry changed here to Ditto', async () => {
    const id = `${ns}:pump`;
    const path = `/api/2/policies/${id}/entries/ALICE`;
    expect((await call(local, 'PUT', path, reader('alice'))).status).toBe(201);

    await waitFor('the entry in Ditto', async () =>
      entriesOf(await policy(up, id))?.ALICE ? true : undefined,
    );
    expect(entriesOf(await policy(up, id))).toEqual(entriesOf(await policy(local, id)));
    expect(await readAs('alice', up, id)).toBe(200);

    // A subject removed here is removed there too.
    const subject = `/api/2/policies/${id}/entries/BOB/subjects/${TEST_USERS.bob.subject}`;
    expect((await call(local, 'DELETE', subject)).status).toBe(204);
    await waitFor('bob locked out in Ditto', async () =>
      (await readAs('bob', up, id)) === 404 ? true : undefined,
    );
  }, 60_000);

  it('takes over a policy changed in Ditto and enforces it here, without sending it back', async () => {
    const id = `${ns}:valve`;
    expect((await call(local, 'PUT', `/api/2/things/${id}`, { attributes: { open: false } })).status).toBe(
      201,
    );
    await waitFor('the thing in Ditto', async () => (await thing(up, id)) ?? undefined);
    expect(await readAs('alice', local, id)).toBe(404);

    const path = `/api/2/policies/${id}/entries/ALICE`;
    expect((await call(up, 'PUT', path, reader('alice'))).status).toBe(201);
    await waitFor(
      'alice reading the thing here',
      async () => ((await readAs('alice', local, id)) === 200 ? true : undefined),
      45_000,
    );
    expect(entriesOf(await policy(local, id))).toEqual(entriesOf(await policy(up, id)));

    const { rows } = await pair.local.db.query<{ origin: string; path: string }>(
      `SELECT origin, path FROM journal WHERE entity = 'policy' AND thing_id = $1 ORDER BY revision DESC LIMIT 1`,
      [id],
    );
    expect(rows[0]).toEqual({ origin: 'ditto', path: '/' });

    // No echo: a whole poll round later neither side has moved.
    const before = { local: (await policy(local, id))?._revision, up: (await policy(up, id))?._revision };
    await new Promise((r) => setTimeout(r, 12_000));
    expect({ local: (await policy(local, id))?._revision, up: (await policy(up, id))?._revision }).toEqual(
      before,
    );
    expect(((await syncStatus(pair.local)).stats as Json).policiesApplied).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('brings a thing made in Ditto with a policy of its own here with that policy', async () => {
    const policyId = `${ns}:shared`;
    const id = `${ns}:meter`;
    const doc = { entries: { OWNER: owner, BOB: reader('bob') } };
    expect((await call(up, 'PUT', `/api/2/policies/${policyId}`, doc)).status).toBe(201);
    expect((await call(up, 'PUT', `/api/2/things/${id}`, { policyId, attributes: { kwh: 1 } })).status).toBe(
      201,
    );

    const here = await waitFor('the thing here', async () => (await thing(local, id)) ?? undefined);
    expect(here).toMatchObject({ policyId, attributes: { kwh: 1 } });
    expect(entriesOf(await policy(local, policyId))).toEqual(entriesOf(await policy(up, policyId)));
    expect(await readAs('bob', local, id)).toBe(200);
    expect(await readAs('alice', local, id)).toBe(404);
  }, 60_000);

  it('deletes a policy in Ditto that was deleted here', async () => {
    const policyId = `${ns}:standalone`;
    expect(
      (await call(local, 'PUT', `/api/2/policies/${policyId}`, { entries: { OWNER: owner } })).status,
    ).toBe(201);
    await waitFor('the policy in Ditto', async () => (await policy(up, policyId)) ?? undefined);
    expect((await call(local, 'DELETE', `/api/2/policies/${policyId}`)).status).toBe(204);
    await waitFor('the policy gone from Ditto', async () =>
      (await policy(up, policyId)) === null ? true : undefined,
    );
    await settled(pair.local);
    expect(((await syncStatus(pair.local)).failing as Json).total).toBe(0);
  }, 60_000);
});
