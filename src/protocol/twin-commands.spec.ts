import { describe, expect, it } from '@jest/globals';
import { errorEnvelope, parseCommand, ProtocolError, responseEnvelope } from './twin-commands.js';
import { Errors } from '../common/errors.js';

function protocolError(frame: string): ProtocolError {
  try {
    parseCommand(frame);
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error('expected a ProtocolError');
}

describe('Ditto Protocol commands', () => {
  it('parses a command as the official client sends it (capitalised Content-Type)', () => {
    const cmd = parseCommand(
      JSON.stringify({
        topic: 'org.eclipse.ditto/t1/things/twin/commands/modify',
        headers: {
          version: 2,
          'Content-Type': 'application/json',
          'correlation-id': 'c-1',
          'If-Match': '"rev:3"',
        },
        path: '/attributes/a',
        value: 5,
      }),
    );
    expect(cmd).toMatchObject({
      thingId: 'org.eclipse.ditto:t1',
      action: 'modify',
      segments: ['attributes', 'a'],
      value: 5,
      correlationId: 'c-1',
      responseRequired: true,
      headers: { version: '2', 'content-type': 'application/json', 'if-match': '"rev:3"' },
    });
  });

  it('keeps colons in thing names and defaults the path to /', () => {
    const cmd = parseCommand(JSON.stringify({ topic: 'ns/a:b/things/twin/commands/retrieve', headers: {} }));
    expect(cmd).toMatchObject({ thingId: 'ns:a:b', path: '/', segments: [] });
    expect(cmd.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses what it cannot run, addressed to the thing and the correlation-id', () => {
    const live = protocolError(
      JSON.stringify({
        topic: 'ns/t/things/live/commands/modify',
        headers: { 'correlation-id': 'x' },
        path: '/',
        value: 1,
      }),
    );
    expect([live.entity, live.correlationId, live.error.status]).toEqual(['ns/t', 'x', 501]);
    expect(
      protocolError(JSON.stringify({ topic: 'ns/t/things/twin/events/modified', headers: {}, path: '/' }))
        .error.code,
    ).toBe('things.protocol.adapter:unknown.topicpath');
    expect(
      protocolError(
        JSON.stringify({ topic: 'ns/t/things/twin/commands/create', headers: {}, path: '/attributes' }),
      ).error.status,
    ).toBe(400);
    expect(protocolError('[1]').entity).toBe('_/_');
    expect(protocolError('{').error.code).toBe('json.invalid');
  });

  it('writes responses and error envelopes in Ditto shape', () => {
    const cmd = parseCommand(
      JSON.stringify({
        topic: 'ns/t/things/twin/commands/retrieve',
        headers: { 'correlation-id': 'c' },
        path: '/attributes',
      }),
    );
    expect(JSON.parse(responseEnvelope(cmd, 200, { a: 1 }))).toEqual({
      topic: 'ns/t/things/twin/commands/retrieve',
      headers: { 'correlation-id': 'c', 'response-required': false, 'content-type': 'application/json' },
      path: '/attributes',
      value: { a: 1 },
      status: 200,
    });
    expect(JSON.parse(errorEnvelope('ns/t', 'c', Errors.thingNotFound('ns:t')))).toMatchObject({
      topic: 'ns/t/things/twin/errors',
      path: '/',
      status: 404,
      value: { status: 404, error: 'things:thing.notfound' },
    });
    // A refusal of a frame that named no correlation-id still carries one, as Ditto's do.
    const unnamed = JSON.parse(errorEnvelope('_/_', undefined, Errors.thingNotFound('ns:t'))) as {
      headers: Record<string, unknown>;
    };
    expect(unnamed.headers['correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
