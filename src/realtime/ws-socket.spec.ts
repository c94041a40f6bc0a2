import { once } from 'node:events';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WebSocket, WebSocketServer } from 'ws';
import { sendFrames, socketOf, textFrames } from './ws-socket.js';

/** The contract the event streams rely on in ws's internals (see ws-socket.ts). */
let server: WebSocketServer;
let url: string;

beforeAll(async () => {
  server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.close();
  await once(server, 'close');
});

describe('socketOf', () => {
  it("is the server side connection's TCP socket, and corking it batches frames into one write", async () => {
    const accepted = once(server, 'connection') as Promise<[WebSocket]>;
    const client = new WebSocket(url);
    const [ws] = await accepted;
    await once(client, 'open');
    const socket = socketOf(ws);
    expect(socket).toBeInstanceOf(Socket);
    const received: string[] = [];
    client.on('message', (d) => received.push((d as Buffer).toString()));
    socket!.cork();
    ws.send('a');
    ws.send('b');
    // Held back while corked: nothing has been written to the network yet.
    expect(socket!.writableCorked).toBe(1);
    socket!.uncork();
    while (received.length < 2) await once(client, 'message');
    expect(received).toEqual(['a', 'b']);
    client.close();
  });

  it('writes frames built once for many sockets, in order with what ws sent, at every length', async () => {
    const accepted = once(server, 'connection') as Promise<[WebSocket]>;
    const client = new WebSocket(url);
    const [ws] = await accepted;
    await once(client, 'open');
    const received: string[] = [];
    client.on('message', (d, isBinary) =>
      received.push(`${isBinary ? 'binary' : 'text'}:${(d as Buffer).length}`),
    );
    // The three length encodings of RFC 6455: 7 bit, 16 bit, 64 bit.
    const payloads = [5, 300, 70_000].map((n) => Buffer.alloc(n, 'x'));
    ws.send('before');
    expect(sendFrames(ws, textFrames(payloads))).toBe(true);
    ws.send('after');
    while (received.length < 5) await once(client, 'message');
    expect(received).toEqual(['text:6', 'text:5', 'text:300', 'text:70000', 'text:5']);
    // Not on a client's socket (its frames must be masked), nor once closing.
    expect(sendFrames(client, textFrames(payloads))).toBe(false);
    ws.close();
    expect(sendFrames(ws, textFrames(payloads))).toBe(false);
    await once(client, 'close');
  });
});
