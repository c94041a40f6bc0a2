import { once } from 'node:events';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WebSocket, WebSocketServer } from 'ws';
import { socketOf } from './ws-socket.js';

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
});
