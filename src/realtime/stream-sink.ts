/** Where a stream writes: a WebSocket or an SSE response. */
export interface StreamSink {
  /** Bytes handed to the transport and not yet written to the network. */
  readonly buffered: number;
  /** `track`: report when it is flushed (a replay waits for the client to drain). */
  send(data: string | Buffer, track: boolean): void;
  /** Hold writes back and flush them together (one syscall for a batch of events). */
  cork(): void;
  uncork(): void;
  /** Resolves when the transport's buffer is low again, or it closed. */
  drained(): Promise<void>;
  /** The client fell behind by more than the limit: close the transport. */
  overflow(): void;
  /** How the transport frames messages, when a batch's framed bytes can be shared between sinks. */
  readonly framing?: Framing;
  /** Counts events handed to the transport (metrics). */
  delivered?(count: number): void;
}

/**
 * A transport's framing: sinks of the same `key` write the very same bytes for the same messages,
 * so a batch is framed once and written as one buffer to each of them.
 */
export interface Framing {
  readonly key: string;
  frame(payloads: readonly Buffer[]): Buffer;
  /** Writes framed bytes; false when it cannot now (the stream then sends message by message). */
  sendFramed(bytes: Buffer, track: boolean): boolean;
}
