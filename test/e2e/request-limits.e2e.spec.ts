import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApp, type TestApp } from '../support/app.js';
import { authHeaders } from '../support/auth.js';

/**
 * Bodies over THING_MAX_SIZE_BYTES are refused without being read: from Content-Length before
 * any of the body, or while streaming (chunked, no Content-Length) once the limit is passed,
 * in Ditto's error JSON, and the connection is closed instead of draining the rest.
 */
const ID = 'org.limits:big';
const LIMIT = 64 * 1024;
const CHUNK = 64 * 1024;
const HUGE = 256 * 1024 * 1024;
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ THING_MAX_SIZE_BYTES: String(LIMIT) });
});
afterAll(async () => {
  await t?.close();
});

interface Exchange {
  /** Everything the server sent before it closed the connection. */
  answer: string;
  /** Body bytes this client had written when the answer was complete. */
  sent: number;
}

/**
 * Sends a PUT of up to HUGE bytes over a raw socket, a chunk at a time (waiting for the socket
 * to drain), and stops writing as soon as the server has answered or closed the connection.
 */
async function hugePut(chunked: boolean): Promise<Exchange> {
  const { port } = new URL(t.baseUrl);
  const socket: Socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  socket.on('error', () => undefined); // EPIPE/ECONNRESET once the server closed: expected
  const done = new Promise<void>((ok) => socket.once('close', () => ((closed = true), ok())));
  const auth = Object.entries(authHeaders())
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(
    `PUT /api/2/things/${ID}/attributes/blob HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}` +
      'Content-Type: application/json\r\n' +
      (chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${HUGE}\r\n`) +
      '\r\n',
  );
  const body = Buffer.alloc(CHUNK, 'x');
  let sent = 0;
  while (sent < HUGE && !closed && !answer.includes('\r\n\r\n{')) {
    const ok = chunked
      ? socket.write(`${CHUNK.toString(16)}\r\n`) && socket.write(body) && socket.write('\r\n')
      : socket.write(body);
    sent += CHUNK;
    // Not events.once: it would reject on the EPIPE that follows the server's close.
    if (!ok) await Promise.race([new Promise((go) => socket.once('drain', go)), done]);
  }
  await done;
  return { answer, sent };
}

function parse(answer: string): { status: number; body: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  return { status, body: JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) };
}

async function stored(): Promise<number> {
  const { rows } = await t.db.query('SELECT count(*)::int AS n FROM journal WHERE thing_id = $1', [ID]);
  return (rows[0] as { n: number }).n;
}

describe('request bodies over the limit', () => {
  it('are refused from Content-Length: 413 in Ditto’s JSON, connection closed, the 256 MB never sent', async () => {
    const { answer, sent } = await hugePut(false);
    expect(parse(answer)).toEqual({
      status: 413,
      body: expect.objectContaining({ status: 413, error: 'things:thing.toolarge' }),
    });
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    // The server did not wait for the body: what went out is what the kernel buffered.
    expect(sent).toBeLessThan(HUGE / 8);
    expect(await stored()).toBe(0);
  });

  it('are refused while streaming without Content-Length, once past the limit, without reading the rest', async () => {
    const { answer, sent } = await hugePut(true);
    expect(parse(answer)).toEqual({
      status: 413,
      body: expect.objectContaining({ status: 413, error: 'things:thing.toolarge' }),
    });
    expect(sent).toBeGreaterThan(LIMIT);
    expect(sent).toBeLessThan(HUGE / 8);
    expect(await stored()).toBe(0);
  });
});
