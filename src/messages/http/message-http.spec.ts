import { describe, expect, it } from '@jest/globals';
import { forwardedHeaders, parseMessageRoute, parseTimeout } from './message-http.js';

describe('message requests over HTTP', () => {
  it('reads the route from the raw path', () => {
    expect(parseMessageRoute('/api/2/things/ns:a/inbox/messages/ask/question')).toEqual({
      thingId: 'ns:a',
      mailbox: 'inbox',
      subject: 'ask/question',
      claim: false,
    });
    expect(parseMessageRoute('/api/2/things/ns:a/features/f%201/outbox/messages/s')).toEqual({
      thingId: 'ns:a',
      featureId: 'f 1',
      mailbox: 'outbox',
      subject: 's',
      claim: false,
    });
    expect(parseMessageRoute('/api/2/things/ns:a/inbox/claim')).toMatchObject({
      subject: 'claim',
      claim: true,
    });
    expect(() => parseMessageRoute('/api/2/things/ns:a/inbox/messages/a%2Fb')).toThrow();
  });

  it("reads Ditto's timeout: seconds from 0 to 60, 10 when absent", () => {
    expect([parseTimeout(undefined), parseTimeout('0'), parseTimeout('60'), parseTimeout('5s')]).toEqual([
      10, 0, 60, 5,
    ]);
    for (const bad of ['61', '-1', '1.5', 'x', '1m']) expect(() => parseTimeout(bad)).toThrow();
  });

  it('never forwards credentials or transport headers', () => {
    expect(
      forwardedHeaders({
        authorization: 'Basic x',
        cookie: 'a',
        'x-forwarded-for': '1',
        'content-type': 'text/plain',
        'x-custom': 'y',
        'correlation-id': 'c',
      }),
    ).toEqual({ 'x-custom': 'y', 'correlation-id': 'c' });
  });
});
