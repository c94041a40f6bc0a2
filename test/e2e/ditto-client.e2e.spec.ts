import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  And,
  DefaultCountOptions,
  DefaultFieldsOptions,
  DefaultMatchOptions,
  DefaultSearchOptions,
  DittoNodeClient,
  Eq,
  Feature,
  Gt,
  In,
  Like,
  NodeHttpBasicAuth,
  Thing,
  type DittoHttpClient,
} from '@eclipse-ditto/ditto-javascript-client-node';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * Drives the API only through Eclipse Ditto's official JavaScript client: if a tool written
 * for Ditto works against Ditto, it must work here unchanged.
 */
let t: TestApp;
let client: DittoHttpClient;
const NS = 'org.compat';

beforeAll(async () => {
  t = await startTestApp();
  client = DittoNodeClient.newHttpClient()
    .withoutTls()
    .withDomain(t.domain)
    .withAuthProvider(NodeHttpBasicAuth.newInstance('ditto', 'ditto'))
    .build();
});
afterAll(async () => {
  await t.close();
});

function rejection(p: Promise<unknown>): Promise<{ _status: number; _value: { error: string } }> {
  return p.then(
    () => {
      throw new Error('expected the client call to fail');
    },
    (e: unknown) => e as { _status: number; _value: { error: string } },
  );
}

describe('official Ditto JS client (HTTP)', () => {
  it('putThing creates (201) then modifies (204)', async () => {
    const things = client.getThingsHandle();
    const thing = new Thing(`${NS}:meter-1`, `${NS}:meter-1`, { location: 'kitchen', counter: 10 });
    const created = await things.putThing(thing);
    expect(created.status).toBe(201);
    expect(created.body?.thingId).toBe(`${NS}:meter-1`);
    const modified = await things.putThing(thing);
    expect(modified.status).toBe(204);
  });

  it('getThing with fields returns only the selected fields, system fields included', async () => {
    const thing = await client
      .getThingsHandle()
      .getThing(
        `${NS}:meter-1`,
        DefaultFieldsOptions.getInstance().withFields('thingId', 'attributes', '_revision'),
      );
    expect(thing.thingId).toBe(`${NS}:meter-1`);
    expect(thing.attributes).toEqual({ location: 'kitchen', counter: 10 });
    expect(thing._revision).toBe(2);
    expect(thing.policyId).toBeUndefined();
  });

  it('putAttribute honours If-Match: the current revision passes, a stale one is 412', async () => {
    const things = client.getThingsHandle();
    const ok = await things.putAttribute(
      `${NS}:meter-1`,
      'location/floor',
      3,
      DefaultMatchOptions.getInstance().ifMatch('"rev:2"'),
    );
    expect(ok.status).toBe(201);
    const stale = await rejection(
      things.putAttribute(
        `${NS}:meter-1`,
        'counter',
        11,
        DefaultMatchOptions.getInstance().ifMatch('"rev:2"'),
      ),
    );
    expect(stale._status).toBe(412);
    expect(stale._value.error).toBe('things:precondition.failed');
  });

  it('putFeature and deleteFeature through the features handle', async () => {
    const features = client.getFeaturesHandle(`${NS}:meter-1`);
    const put = await features.putFeature(new Feature('power', ['org.compat:meter:1.0.0'], { watts: 120 }));
    expect(put.status).toBe(201);
    expect(await features.getProperty('power', 'watts')).toBe(120);
    await features.putProperty('power', 'watts', 130);
    expect((await features.getFeature('power')).properties).toEqual({ watts: 130 });
    await features.deleteFeature('power');
    const missing = await rejection(features.getFeature('power'));
    expect(missing._status).toBe(404);
    expect(missing._value.error).toBe('things:feature.notfound');
  });

  it('patchThing merges (RFC 7396) with null deleting', async () => {
    const things = client.getThingsHandle();
    const patch = Thing.fromObject({ thingId: `${NS}:meter-1`, attributes: { counter: null, model: 'M1' } });
    const res = await things.patchThing(patch);
    expect(res.status).toBe(204);
    const thing = await things.getThing(`${NS}:meter-1`);
    expect(thing.attributes).toEqual({ location: { floor: 3 }, model: 'M1' });
  });

  it('search with Eq, And, Like, In, paging by cursor, and count', async () => {
    const things = client.getThingsHandle();
    for (let i = 0; i < 12; i++) {
      const room = i % 3 === 0 ? 'kitchen' : i % 3 === 1 ? 'hall' : 'garage';
      await things.putThing(
        new Thing(`${NS}:s-${String(i).padStart(2, '0')}`, undefined, { room, n: i, tag: `t${i}` }),
      );
    }
    const search = client.getSearchHandle();
    const kitchen = await search.search(
      DefaultSearchOptions.getInstance().withFilter(Eq('attributes/room', 'kitchen')).withFields('thingId'),
    );
    expect(kitchen.items.map((x) => x.thingId)).toEqual([
      `${NS}:s-00`,
      `${NS}:s-03`,
      `${NS}:s-06`,
      `${NS}:s-09`,
    ]);

    const anded = await search.search(
      DefaultSearchOptions.getInstance().withFilter(
        And(Eq('attributes/room', 'hall'), Gt('attributes/n', 4)),
      ),
    );
    expect(anded.items.map((x) => x.thingId)).toEqual([`${NS}:s-07`, `${NS}:s-10`]);

    const liked = await search.search(
      DefaultSearchOptions.getInstance().withFilter(Like('attributes/tag', 't1*')),
    );
    expect(liked.items.map((x) => x.thingId)).toEqual([`${NS}:s-01`, `${NS}:s-10`, `${NS}:s-11`]);

    const inned = await search.search(
      DefaultSearchOptions.getInstance().withFilter(In('attributes/n', 2, 5, 99)),
    );
    expect(inned.items.map((x) => x.thingId)).toEqual([`${NS}:s-02`, `${NS}:s-05`]);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const opts = DefaultSearchOptions.getInstance()
        .withFilter(Like('thingId', `${NS}:s-*`))
        .withSort('-thingId')
        .withPageSize(5);
      if (cursor) opts.withCursor(cursor);
      const page = await search.search(opts);
      seen.push(...page.items.map((x) => x.thingId));
      cursor = page.cursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `${NS}:s-${String(11 - i).padStart(2, '0')}`));

    const count = await search.count(
      DefaultCountOptions.getInstance().withFilter(Eq('attributes/room', 'garage')),
    );
    expect(count).toBe(4);
    const posted = await search.postSearch(
      DefaultSearchOptions.getInstance().withRawFilter('eq(attributes/n,4)'),
    );
    expect(posted.items.map((x) => x.thingId)).toEqual([`${NS}:s-04`]);
  });

  it('getThings by ids and errors as BasicErrorResponse with Ditto codes', async () => {
    const list = await client.getThingsHandle().getThings([`${NS}:s-01`, `${NS}:s-02`]);
    expect(list.map((x) => x.thingId)).toEqual([`${NS}:s-01`, `${NS}:s-02`]);
    const notFound = await rejection(client.getThingsHandle().getThing(`${NS}:nope`));
    expect(notFound._status).toBe(404);
    expect(notFound._value.error).toBe('things:thing.notfound');
  });
});
