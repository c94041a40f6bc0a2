import type { Socket } from 'node:net';
import { WebSocket } from 'ws';

/**
 * ws has no public cork: the TCP socket under a WebSocket is its private `_socket`. Corking it
 * lets a batch of events leave in one write (one syscall instead of one per event), which is
 * most of the fan-out's cost. This is the only place that reaches into ws; ws is pinned exactly
 * and src/realtime/ws-socket.spec.ts fails if an upgrade moves the socket.
 */
export function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}

/** ws' Sender (`_sender`): `_state` 0 is idle (not compressing, not reading a Blob); `_queue` waits behind it. */
interface SenderState {
  _state?: number;
  _queue?: unknown[];
}

/**
 * RFC 6455 §5.2 frames of unmasked, unfragmented text messages (what a server sends), one after
 * the other in one buffer: built once for a batch of events and written as it is to every socket
 * that gets exactly that batch.
 */
export function textFrames(payloads: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const payload of payloads) {
    const n = payload.length;
    const header = Buffer.allocUnsafe(n < 126 ? 2 : n < 65536 ? 4 : 10);
    header[0] = 0x81; // FIN + text
    if (n < 126) {
      header[1] = n;
    } else if (n < 65536) {
      header[1] = 126;
      header.writeUInt16BE(n, 2);
    } else {
      header[1] = 127;
      header.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
      header.writeUInt32BE(n >>> 0, 6);
    }
    parts.push(header, payload);
  }
  return Buffer.concat(parts);
}

/**
 * Writes frames made by textFrames straight to the connection's socket: one write for a whole
 * batch, however many sockets share it. Only while ws itself has nothing queued (it queues while
 * compressing or reading a Blob), so frames keep their order with what ws.send wrote before; false
 * when that is not the case (the caller sends the messages through ws then).
 */
export function sendFrames(ws: WebSocket, frames: Buffer, cb?: (err?: Error | null) => void): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  const socket = socketOf(ws);
  const internals = ws as unknown as { _sender?: SenderState; _isServer?: boolean };
  const sender = internals._sender;
  // A client's frames must be masked: these are for the server side only.
  if (internals._isServer !== true) return false;
  if (!socket || socket.destroyed || !sender || sender._state !== 0 || (sender._queue?.length ?? 1) > 0) {
    return false;
  }
  socket.write(frames, cb);
  return true;
}
