import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AccessRight,
  DefaultTokenSupplier,
  DittoNodeClient,
  Entry,
  NodeHttpBasicAuth,
  NodeHttpBearerAuth,
  NodeWebSocketBasicAuth,
  Policy,
  Resource,
  Subject,
  SubjectId,
  Thing,
  type DittoHttpClient,
  type DittoWebSocketTwinClient,
} from '@eclipse-ditto/ditto-javascript-client-node';
import { WsSessions } from '../../src/realtime/ws-sessions.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { TEST_AUTH_USERS_ENV } from '../support/auth.js';
import { TestIssuer } from '../support/oidc-issuer.js';
import { until } from './realtime.support.js';

/**
 * Eclipse Ditto's official JavaScript client manages policies through its policies handle and
 * reads and writes things under them, signed in with HTTP basic and with a bearer token from an
 * OpenID Connect issuer, over HTTP and WebSocket: what a Ditto user's tooling does, unchanged.
 */
const NS = 'org.clientpol';
const POLICY = `${NS}:shared`;
const THING = `${NS}:meter-1`;
const CAROL = 'test:carol'; // the bearer user: issuer prefix `test`, token subject `carol`

let t: TestApp;
let issuer: TestIssuer;
let ditto: DittoHttpClient;
let carol: DittoHttpClient;
let bob: DittoHttpClient;
const sockets: DittoWebSocketTwinClient[] = [];

const RIGHTS = { READ: AccessRight.Read, WRITE: AccessRight.Write };
const rw = (...rights: ('READ' | 'WRITE')[]): AccessRight[] => rights.map((r) => RIGHTS[r]);
const entry = (label: string, subjects: string[], resources: [string, AccessRight[], AccessRight[]][]) =>
  Entry.fromObject(
    {
      subjects: Object.fromEntries(subjects.map((s) => [s, { type: 'test' }])),
      resources: Object.fromEntries(resources.map(([path, grant, revoke]) => [path, { grant, revoke }])),
    },
    label,
  );

function httpClient(provider: NodeHttpBasicAuth | NodeHttpBearerAuth): DittoHttpClient {
  return DittoNodeClient.newHttpClient().withoutTls().withDomain(t.domain).withAuthProvider(provider).build();
}

function wsClient(provider: NodeWebSocketBasicAuth | NodeHttpBearerAuth): DittoWebSocketTwinClient {
  const c = DittoNodeClient.newWebSocketClient()
    .withoutTls()
    .withDomain(t.domain)
    .withAuthProvider(provider)
    .withBuffer(15)
    .twinChannel()
    .build();
  sockets.push(c);
  return c;
}

beforeAll(async () => {
  issuer = await TestIssuer.start();
  t = await startTestApp({ AUTH_USERS: TEST_AUTH_USERS_ENV, AUTH_OIDC_ISSUERS: `test=${issuer.url}` });
  ditto = httpClient(NodeHttpBasicAuth.newInstance('ditto', 'ditto'));
  bob = httpClient(NodeHttpBasicAuth.newInstance('bob', 'bob-secret'));
  carol = httpClient(NodeHttpBearerAuth.newInstance(new DefaultTokenSupplier(await issuer.token('carol'))));
});

afterAll(async () => {
  for (const c of sockets) closeQuietly(c);
  const sessions = t.app.get(WsSessions);
  await until('the clients to disconnect', () => sessions.size === 0);
  await t.close();
  await issuer.close();
});

/** As in realtime.ditto-client.spec.ts: the client's close() leaves a rejected promise behind. */
function closeQuietly(c: DittoWebSocketTwinClient): void {
  const internals = c as unknown as {
    responseHandler: { resilienceHandler: { webSocket?: NodeSocket; lastWebSocket?: NodeSocket } };
  };
  const handler = internals.responseHandler.resilienceHandler;
  (handler.webSocket ?? handler.lastWebSocket)?.webSocket.removeAllListeners('close');
  c.close();
}
type NodeSocket = { webSocket: { removeAllListeners(event: string): void } };

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as { _status?: number; status?: number })._status ?? (err as { status: number }).status;
  }
}

describe('the policies handle', () => {
  it('creates, reads and edits a policy entry by entry', async () => {
    const policies = ditto.getPoliciesHandle();
    const created = await policies.putPolicy(
      new Policy(POLICY, {
        OWNER: entry(
          'OWNER',
          ['nginx:ditto'],
          [
            ['thing:/', rw('READ', 'WRITE'), []],
            ['policy:/', rw('READ', 'WRITE'), []],
          ],
        ),
      }),
    );
    expect(created.status).toBe(201);

    const readers = entry('READERS', [CAROL], [['thing:/', rw('READ'), []]]);
    expect((await policies.putEntry(POLICY, readers)).status).toBe(201);
    expect(
      (await policies.putSubject(POLICY, 'READERS', new Subject(SubjectId.fromString('nginx:alice'), 'test')))
        .status,
    ).toBe(201);
    expect(
      (
        await policies.putResource(
          POLICY,
          'READERS',
          new Resource('thing:/attributes/secret', [], rw('READ')),
        )
      ).status,
    ).toBe(201);

    const policy = await policies.getPolicy(POLICY);
    // The client's Policy model carries only the entries (its id is the one asked for).
    expect(policy.toObject()).toMatchObject({
      entries: {
        READERS: {
          subjects: { [CAROL]: { type: 'test' }, 'nginx:alice': { type: 'test' } },
          resources: {
            'thing:/': { grant: ['READ'], revoke: [] },
            'thing:/attributes/secret': { grant: [], revoke: ['READ'] },
          },
        },
      },
    });
    const resource = await policies.getResource(POLICY, 'READERS', 'thing:/attributes/secret');
    expect(resource.toObject()).toEqual({ grant: [], revoke: ['READ'] });
    expect((await policies.deleteSubject(POLICY, 'READERS', 'nginx:alice')).status).toBe(204);
    const subjects = await policies.getSubjects(POLICY, 'READERS');
    expect(Object.keys(subjects)).toEqual([CAROL]);
  });

  it('refuses a change by a subject without WRITE on the policy', async () => {
    // Carol may read the thing but not its policy: to her, the policy does not exist.
    expect(await status(carol.getPoliciesHandle().deleteEntry(POLICY, 'OWNER'))).toBe(404);
    await ditto.getPoliciesHandle().putResource(POLICY, 'READERS', new Resource('policy:/', rw('READ'), []));
    // Now she sees it, and is told she may not change it.
    expect(await status(carol.getPoliciesHandle().deleteEntry(POLICY, 'OWNER'))).toBe(403);
    expect(await status(bob.getPoliciesHandle().getPolicy(POLICY))).toBe(404);
    expect((await ditto.getPoliciesHandle().getEntry(POLICY, 'OWNER')).toObject()).toBeDefined();
  });
});

describe('things under the policy, over HTTP and WebSocket', () => {
  it('lets the bearer user read what the policy grants, cut by its revoke', async () => {
    const put = await ditto
      .getThingsHandle()
      .putThing(new Thing(THING, POLICY, { public: 1, secret: 's' }, {}));
    expect(put.status).toBe(201);
    const seen = await carol.getThingsHandle().getThing(THING);
    expect(seen.toObject()).toMatchObject({ thingId: THING, attributes: { public: 1 } });
    expect((seen.toObject() as { attributes: object }).attributes).not.toHaveProperty('secret');
    expect(await status(carol.getThingsHandle().putAttribute(THING, 'public', 2))).toBe(403);
    expect(await status(bob.getThingsHandle().getThing(THING))).toBe(404);
  });

  it('delivers WebSocket events to the bearer user until its grant is removed', async () => {
    const ws = wsClient(
      NodeHttpBearerAuth.newInstance(new DefaultTokenSupplier(await issuer.token('carol'))),
    );
    const events = ws.getEventsHandle();
    await events.requestEvents();
    const received: { path: string; value?: unknown }[] = [];
    events.subscribeToThing(THING, (msg) => received.push(msg));
    const things = ditto.getThingsHandle();

    await things.putAttribute(THING, 'public', 'seen');
    await things.putAttribute(THING, 'secret', 'never');
    await until('the readable change', () => received.some((m) => m.value === 'seen'));

    await ditto.getPoliciesHandle().deleteEntry(POLICY, 'READERS');
    await things.putAttribute(THING, 'public', 'too-late');
    // A change the owner's own socket sees marks that the later events were dispatched.
    const owner = wsClient(NodeWebSocketBasicAuth.newInstance('ditto', 'ditto'));
    const ownerEvents = owner.getEventsHandle();
    await ownerEvents.requestEvents();
    const ownerSeen: { value?: unknown }[] = [];
    ownerEvents.subscribeToThing(THING, (msg) => ownerSeen.push(msg));
    await things.putAttribute(THING, 'public', 'marker');
    await until('the owner sees the marker', () => ownerSeen.some((m) => m.value === 'marker'));

    const values = received.map((m) => m.value);
    expect(values).toContain('seen');
    expect(values).not.toContain('never');
    expect(values).not.toContain('too-late');
    expect(values).not.toContain('marker');
  });

  it('answers a WebSocket retrieve of an unreadable thing with not found', async () => {
    const ws = wsClient(NodeWebSocketBasicAuth.newInstance('bob', 'bob-secret'));
    const err = await ws
      .getThingsHandle()
      .getThing(THING)
      .then(
        () => undefined,
        (e: unknown) => e as { status?: number; error?: string },
      );
    expect(err?.status ?? (err as { _status?: number } | undefined)?._status).toBe(404);
  });
});
