import { Injectable } from '@nestjs/common';

/**
 * What this replica's WebSocket and SSE streams delivered and how their connections ended,
 * since it started (metrics/ reads these when Prometheus scrapes).
 */
@Injectable()
export class RealtimeStats {
  /** Events (and live messages) written to WebSocket clients. */
  wsDelivered = 0;
  /** Events written to SSE clients. */
  sseDelivered = 0;
  /** SSE streams dropped because the client fell behind by more than the buffer limit. */
  sseOverflows = 0;
  /** SSE streams that ended otherwise (the client left, a failure, the shutdown). */
  sseClosed = 0;
  private readonly wsCloses = new Map<number, number>();

  /** A WebSocket ended with this close code (1000 normal, 1001 going away, 1008 policy, 1011 error, 4000 idle, 4008 backpressure…). */
  wsClosed(code: number): void {
    this.wsCloses.set(code, (this.wsCloses.get(code) ?? 0) + 1);
  }

  /** Closed WebSockets by close code. */
  wsClosesByCode(): [code: number, count: number][] {
    return [...this.wsCloses];
  }
}
