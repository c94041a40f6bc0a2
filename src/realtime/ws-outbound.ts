import { WebSocket } from 'ws';
import type { StreamSink } from './stream-sink.js';
import { sendFrames, socketOf, textFrames } from './ws-socket.js';

/**
 * What a `/ws/2` session writes, bounded by WS_BUFFER_MAX_BYTES: the event streams' sink, and
 * the responses and acks it sends itself.
 */
export class WsOutbound {
  readonly sink: StreamSink;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly ws: WebSocket,
    /** WS_BUFFER_MAX_BYTES: outbound data a connection may have pending. */
    private readonly limit: number,
    /** The client fell behind by more than the limit: close the connection. */
    overflow: () => void,
    /** Counts events handed to the socket (metrics). */
    delivered: ((count: number) => void) | undefined,
  ) {
    this.sink = {
      get buffered() {
        return ws.bufferedAmount;
      },
      // A Buffer is sent as a text frame as it is: encoded once per event, not once per socket.
      send: (data, track) => ws.send(data, { binary: false }, track ? this.flushed : undefined),
      // A corked batch leaves in one write.
      cork: () => socketOf(ws)?.cork(),
      uncork: () => socketOf(ws)?.uncork(),
      drained: () => this.drained(),
      overflow,
      delivered,
      // A batch of events is framed once and the same bytes go to every socket that gets it.
      framing: {
        key: 'ws',
        frame: textFrames,
        sendFramed: (bytes, track) => sendFrames(ws, bytes, track ? this.flushed : undefined),
      },
    };
  }

  /** Responses and acks obey the same bound as events. */
  send(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount + Buffer.byteLength(text) > this.limit) {
      this.sink.overflow();
      return;
    }
    this.ws.send(text);
  }

  /** Lets what waits for the buffer go on: it drained, or the connection closed. */
  wake(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private readonly flushed = (): void => {
    if (this.drainWaiters.length > 0 && this.ws.bufferedAmount <= this.limit / 4) this.wake();
  };

  private drained(): Promise<void> {
    if (this.ws.bufferedAmount <= this.limit / 4 || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.resolve();
    }
    return new Promise((ok) => this.drainWaiters.push(ok));
  }
}
