import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../common/domain-error.js';
import { parsePersistedOptions, parseStreamingCommand } from './ws-streaming-protocol.js';

describe('streaming subscription commands', () => {
  it('recognises the streaming topics of a thing and leaves every other message alone', () => {
    expect(
      parseStreamingCommand({
        topic: 'org.x/lamp/things/twin/streaming/request',
        headers: { 'Correlation-Id': 'c-1' },
        value: { subscriptionId: '0', demand: 3 },
      }),
    ).toEqual({
      topic: 'org.x/lamp/things/twin/streaming/request',
      namespace: 'org.x',
      name: 'lamp',
      action: 'request',
      value: { subscriptionId: '0', demand: 3 },
      correlationId: 'c-1',
    });
    // Without one, the command gets its own, which every frame answering it then carries.
    const unnamed = ['', undefined].map(
      (cid) =>
        parseStreamingCommand({
          topic: 'org.x/lamp/things/twin/streaming/cancel',
          headers: { 'correlation-id': cid },
          value: { subscriptionId: '0' },
        })?.correlationId,
    );
    expect(unnamed).toEqual([
      expect.stringMatching(/^[0-9a-f-]{36}$/),
      expect.stringMatching(/^[0-9a-f-]{36}$/),
    ]);
    expect(unnamed[0]).not.toBe(unnamed[1]);
    expect(parseStreamingCommand({ topic: 'org.x/lamp/things/twin/commands/modify' })).toBeUndefined();
    expect(parseStreamingCommand({ topic: 'org.x/lamp/things/twin/streaming' })).toBeUndefined();
    expect(parseStreamingCommand('org.x/lamp/things/twin/streaming/request')).toBeUndefined();
  });

  it('reads the range as Ditto: no from is the oldest, no to the current revision', () => {
    expect(parsePersistedOptions(undefined)).toEqual({ bounds: { fromRevision: 0, toRevision: 0 } });
    expect(parsePersistedOptions({ fromHistoricalRevision: -5 })).toEqual({
      bounds: { fromRevision: -5, toRevision: 0 },
    });
    expect(
      parsePersistedOptions({
        fromHistoricalTimestamp: '2026-01-01T00:00:00Z',
        toHistoricalTimestamp: '2026-01-02T00:00:00Z',
      }).bounds,
    ).toEqual({ fromTimestamp: '2026-01-01T00:00:00.000Z', toTimestamp: '2026-01-02T00:00:00.000Z' });
    expect(parsePersistedOptions({ filter: 'exists(features/bamboo)' }).filter).toBeDefined();
  });

  it.each([
    ['a value that is no object', 'from 1'],
    ['a revision that is no integer', { fromHistoricalRevision: 1.5 }],
    ['a revision as a string', { toHistoricalRevision: '3' }],
    ['a timestamp that is none', { fromHistoricalTimestamp: 'yesterday' }],
    ['both kinds of start', { fromHistoricalRevision: 1, fromHistoricalTimestamp: '2026-01-01T00:00:00Z' }],
    ['both kinds of end', { toHistoricalRevision: 1, toHistoricalTimestamp: '2026-01-01T00:00:00Z' }],
    ['a filter that is no string', { filter: 42 }],
  ])('refuses %s with Ditto’s protocol error', (_what, value) => {
    let error: unknown;
    try {
      parsePersistedOptions(value);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).toJSON()).toMatchObject({
      status: 400,
      error: 'streaming.subscription.protocol.error',
    });
  });

  it('refuses a malformed filter with the RQL error', () => {
    expect(() => parsePersistedOptions({ filter: 'eq(attributes/a' })).toThrow(DomainError);
  });
});
