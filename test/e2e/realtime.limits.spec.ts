import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authContext } from '../../src/auth/auth-context.js';
import { SseStreams } from '../../src/realtime/sse-streams.js';
import { socketOf as tcpOf } from '../../src/realtime/ws-socket.js';
import { WsSessions } from '../../src/realtime/ws-sessions.js';
import type { TwinCommand } from '../../src/twins/twin.types.js';
import { TwinsService } from '../../src/twins/twins.service.js';
import { authHeaders, testUser } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';
import { DittoSocket, SseClient, startInstance, until, type Instance } from './realtime.support.js';

/**
 * What keeps /ws/2 safe: a bounded outbound buffer per connection (a client that stops reading is
 * closed with 4008 while the others keep receiving everything), connection limit, ping/pong and
 * the idle timeout.
 */
const LIMIT = 256 * 1024;
let database: { url: string; drop: () => Promise<void> };
let app: Instance;

beforeAll(async () => {
  database = await createTestDatabase();
  // The default ping interval (30 s): a paused client cannot answer pings, and must meet the buffer limit first.
  app = await startInstance(database.url, { WS_BUFFER_MAX_BYTES: String(LIMIT), WS_MAX_CONNECTIONS: '3' });
});
afterAll(async () => {
  await app.close();
  await database.drop();
});

const socketOf = (c: DittoSocket) => tcpOf(c.ws)!;

/**
 * One transaction writing `value` at `path` of each thing: as the signed-in user (whose default
 * policies let the clients see the events of things it creates), or as the system.
 */
function writeEach(thingIds: string[], path: string[], value: unknown, by: 'user' | 'system') {
  const who =
    by === 'user'
      ? { origin: 'rest' as const, auth: authContext([testUser().subject]) }
      : { origin: 'system' as const };
  return app.app
    .get(TwinsService)
    .applyMany(thingIds.map((thingId): TwinCommand => ({ type: 'modify', thingId, path, value, ...who })));
}

describe('backpressure', () => {
  it('closes a client that stops reading with 4008; the others get everything; memory stays bounded', async () => {
    const sessions = app.app.get(WsSessions);
    const slow = await DittoSocket.open(app.wsUrl);
    const fast = await DittoSocket.open(app.wsUrl);
    await slow.control('START-SEND-EVENTS?namespaces=org.bp');
    await fast.control('START-SEND-EVENTS?namespaces=org.bp');
    const slowPort = socketOf(slow).localPort;
    const slowSession = () => sessions.stats().find((s) => s.remotePort === slowPort);
    socketOf(slow).pause(); // stops reading: the kernel buffers fill, then the server's
    const blob = 'x'.repeat(8000);
    const things = Array.from({ length: 10 }, (_, i) => `org.bp:t-${i}`);
    await writeEach(things, [], {}, 'user');
    let written = things.length;
    try {
      for (let round = 0; round < 2000 && slowSession()?.open; round++) {
        await writeEach(things, [], { attributes: { round, blob } }, 'system');
        written += things.length;
      }
      // Closing, not yet closed: the close frame waits behind the data the client does not read.
      const closing = slowSession();
      expect(closing).toMatchObject({ open: false });
      expect(closing!.peakPending).toBeGreaterThan(LIMIT / 2);
      expect(closing!.peakPending).toBeLessThanOrEqual(LIMIT);
      expect(closing!.buffered).toBeLessThanOrEqual(LIMIT);

      // The fast client was never held up and keeps receiving after the slow one is gone.
      await writeEach(things, ['attributes', 'after'], 1, 'system');
      written += things.length;
      await until(
        'the fast client to have everything',
        () => fast.events.length >= written || fast.closeCode !== undefined,
      );
      expect(fast.closeCode).toBeUndefined();
      expect(fast.events).toHaveLength(written);
    } finally {
      socketOf(slow).resume();
      await fast.close();
    }
    await until('the slow client to read its close frame', () => slow.closeCode !== undefined);
    expect(slow.closeCode).toBe(4008);
    expect(slow.events.length).toBeLessThan(written);
  });

  it('delivers one change set larger than the limit to a client that keeps reading', async () => {
    const client = await DittoSocket.open(app.wsUrl);
    try {
      await client.control('START-SEND-EVENTS?namespaces=org.burst');
      const blob = 'y'.repeat(8000);
      // One transaction of about 400 kB, so the journal feed hands it over as one batch.
      const things = Array.from({ length: 50 }, (_, i) => `org.burst:t-${i}`);
      await writeEach(things, [], { attributes: { blob } }, 'user');
      await until(
        'the client to have the whole change set',
        () => client.events.length >= things.length || client.closeCode !== undefined,
      );
      expect(client.closeCode).toBeUndefined();
      expect(client.events.map((e) => e.topic.split('/')[1]).sort()).toEqual(
        things.map((id) => id.split(':')[1]).sort(),
      );
    } finally {
      await client.close();
    }
  });
});

describe('connections', () => {
  it('refuses upgrades beyond WS_MAX_CONNECTIONS with 503', async () => {
    await until('earlier sessions to end', () => app.app.get(WsSessions).size === 0);
    const open = await Promise.all([1, 2, 3].map(() => DittoSocket.open(app.wsUrl)));
    await expect(DittoSocket.open(app.wsUrl)).rejects.toThrow('upgrade answered 503');
    await open[0].close();
    await until('the slot to free', () => app.app.get(WsSessions).size === 2);
    const again = await DittoSocket.open(app.wsUrl);
    await Promise.all([...open.slice(1), again].map((c) => c.close()));
  });

  it('refuses event streams beyond SSE_MAX_CONNECTIONS with 503 in Ditto’s error JSON', async () => {
    const capped = await startInstance(database.url, { SSE_MAX_CONNECTIONS: '2' });
    try {
      const url = `${capped.baseUrl}/api/2/things`;
      const open = await Promise.all([1, 2].map(() => SseClient.open(url)));
      const refused = await fetch(url, { headers: { ...authHeaders(), Accept: 'text/event-stream' } });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(((await refused.json()) as { error: string }).error).toBe('gateway:service.unavailable');
      open[0].close();
      await until('the slot to free', () => capped.app.get(SseStreams).size === 1);
      const again = await SseClient.open(url);
      for (const c of [open[1], again]) c.close();
    } finally {
      await capped.close();
    }
  });

  it('terminates a client that does not answer pings and keeps one that does', async () => {
    const pinging = await startInstance(database.url, { WS_PING_INTERVAL_MS: '1000' });
    try {
      const deaf = await DittoSocket.open(pinging.wsUrl, { autoPong: false });
      const healthy = await DittoSocket.open(pinging.wsUrl);
      let pings = 0;
      healthy.ws.on('ping', () => pings++);
      await until('the deaf client to be dropped', () => deaf.closeCode !== undefined);
      expect(deaf.closeCode).toBe(1006); // terminated, no close frame
      await until('the healthy client to have answered a ping', () => pings >= 2);
      expect(healthy.closeCode).toBeUndefined();
      await healthy.close();
    } finally {
      await pinging.close();
    }
  });

  it('closes an idle connection with 4000 when WS_IDLE_TIMEOUT_MS is set', async () => {
    const idle = await startInstance(database.url, { WS_IDLE_TIMEOUT_MS: '200' });
    try {
      const quiet = await DittoSocket.open(idle.wsUrl);
      await until('the idle close', () => quiet.closeCode !== undefined);
      expect(quiet.closeCode).toBe(4000);
    } finally {
      await idle.close();
    }
  });
});
