import { describe, expect, it } from '@jest/globals';
import { deviceIdentity, mayPublish, mayReceive, maySubscribe } from './device-topics.js';

/** A device's live-message mailboxes (protocol/messages.ts): its own inbox in, its own outbox out. */
const me = deviceIdentity('org.acme:meter-1');
const own = 'things/org.acme:meter-1';
const other = 'things/org.acme:meter-2';

describe('device mailboxes', () => {
  it.each([
    [`${own}/outbox/answer`, true],
    [`${own}/outbox/a/b`, true],
    [`${own}/features/lamp/outbox/state`, true],
    [`${own}/inbox/x`, false],
    [`${own}/outbox`, false],
    [`${own}/features/lamp/inbox/x`, false],
    [`${other}/outbox/x`, false],
  ])('publishes %s: %s', (topic, allowed) => {
    expect(mayPublish(me, topic)).toBe(allowed);
  });

  it.each([
    [`${own}/inbox/#`, true],
    [`${own}/features/+/inbox/#`, true],
    [`${own}/features/lamp/inbox/switch`, true],
    [`${own}/features/#`, false],
    [`${own}/features/+/outbox/#`, false],
    [`${own}/#`, false],
    [`${other}/inbox/#`, false],
    ['things/+/inbox/#', false],
  ])('subscribes %s: %s', (filter, allowed) => {
    expect(maySubscribe(me, filter)).toBe(allowed);
  });

  it('receives only its own inbox messages', () => {
    expect(mayReceive(me, `${own}/features/lamp/inbox/switch`)).toBe(true);
    expect(mayReceive(me, `${own}/outbox/x`)).toBe(false);
    expect(mayReceive(me, `${other}/features/lamp/inbox/switch`)).toBe(false);
  });
});
