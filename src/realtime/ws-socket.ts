import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * ws has no public cork: the TCP socket under a WebSocket is its private `_socket`. Corking it
 * lets a batch of events leave in one write (one syscall instead of one per event), which is
 * most of the fan-out's cost. This is the only place that reaches into ws; ws is pinned exactly
 * and src/realtime/ws-socket.spec.ts fails if an upgrade moves the socket.
 */
export function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}
