/** One device reading of one property. */
export interface TelemetryReading {
  thingId: string;
  featureId: string;
  /**
   * The property inside the feature's properties: its keys (`['status', 'level']`), or its JSON
   * pointer without the leading slash (`status/level`; a `~` in a key is written `~0`).
   */
  path: string | readonly string[];
  /** Device time: epoch milliseconds, or ISO 8601 (without an offset it is UTC). */
  ts: number | string;
  /** The device's sequence number, a non-negative integer, or null when the device sends none. */
  seq: number | null;
  value: unknown;
}

export const HISTORY_AGGS = ['avg', 'min', 'max', 'sum', 'count', 'first', 'last'] as const;
export type HistoryAgg = (typeof HISTORY_AGGS)[number];

/** Whose history: one property of one feature of one thing. */
export interface PropertyRef {
  thingId: string;
  featureId: string;
  path: string;
}

/** A position in the (ts, seq) order of raw points; seq -1 stands for "no seq". */
export interface PointKey {
  /** Exact, microseconds included: `2024-01-01T00:00:00.123456Z`. */
  ts: string;
  seq: string;
}

export interface HistoryPoint {
  ts: string;
  seq: number | null;
  value: unknown;
}

export interface HistoryBucket {
  /** Start of the bucket. */
  ts: string;
  value: unknown;
  /** Readings the value was computed from. */
  count: number;
}

export interface PointsPage extends PropertyRef {
  from: string;
  to: string;
  points: HistoryPoint[];
  /** Present when there may be more points: pass it as `cursor` for the next page. */
  cursor?: string;
}

export interface BucketsResult extends PropertyRef {
  from: string;
  to: string;
  step: string;
  agg: HistoryAgg;
  buckets: HistoryBucket[];
}
