import { describe, expect, it } from '@jest/globals';
import { protocolViolations } from '../support/ditto-protocol.js';

/** The schema check every DittoSocket spec runs: it must pass Ditto's messages and catch others. */
describe("Ditto Protocol check of the suite's WebSocket messages", () => {
  const headers = { 'correlation-id': 'c-1', 'content-type': 'application/json' };
  const thing = {
    thingId: 'org.acme:meter-1',
    policyId: 'org.acme:meter-1',
    attributes: { building: 'B1' },
    features: {
      energy: { definition: ['org.acme:meter:1.0.0'], properties: { power: 1 }, desiredProperties: {} },
    },
    _revision: 3,
    _modified: '2026-12-07T10:00:00.123Z',
  };

  it('passes an event, a response, an error and a search page as Ditto sends them', () => {
    const messages = [
      { topic: 'org.acme/meter-1/things/twin/events/created', headers, path: '/', value: thing, revision: 3 },
      {
        topic: 'org.acme/meter-1/things/twin/commands/retrieve',
        headers,
        path: '/features/energy',
        value: thing.features.energy,
        status: 200,
      },
      {
        topic: 'org.acme/meter-1/things/twin/errors',
        headers,
        path: '/',
        value: { status: 404, error: 'things:thing.notfound', message: 'not found' },
        status: 404,
      },
      {
        topic: '_/_/things/twin/search/next',
        headers,
        path: '/',
        value: { subscriptionId: 's-1', items: [thing] },
      },
      { topic: 'org.acme/meter-1/things/twin/events/deleted', headers, path: '/', revision: 4 },
    ];
    expect(messages.flatMap(protocolViolations)).toEqual([]);
  });

  it('catches what a Ditto client would trip over', () => {
    const event = { topic: 'org.acme/meter-1/things/twin/events/modified', headers, path: '/' };
    expect(protocolViolations({ ...event, headers: {}, value: thing })).toEqual([
      expect.stringContaining("must have required property 'correlation-id'"),
    ]);
    expect(protocolViolations({ ...event, value: { ...thing, _revision: '3' } })).toEqual([
      expect.stringContaining('/_revision must be integer'),
    ]);
    expect(
      protocolViolations({ ...event, path: '/features/energy', value: { definition: 'org.acme:meter:1' } }),
    ).toEqual([expect.stringContaining('/definition must be array')]);
    expect(
      protocolViolations({
        topic: 'org.acme/meter-1/things/twin/errors',
        headers,
        path: '/',
        value: { error: 'things:thing.notfound', message: 'no status' },
      }),
    ).toEqual(expect.arrayContaining([expect.stringContaining("must have required property 'status'")]));
    expect(
      protocolViolations({
        topic: '_/_/things/twin/search/next',
        headers,
        path: '/',
        value: { subscriptionId: 's-1' },
      }),
    ).toEqual([expect.stringContaining("must have required property 'items'")]);
  });
});
