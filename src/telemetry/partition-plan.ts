/**
 * Which daily partitions of `telemetry` should exist and which may go. Partitions are named
 * after their UTC day (`telemetry_p20240501` holds [2024-05-01T00:00Z, 2024-05-02T00:00Z)), so
 * the name alone says what a partition covers; tables of other names (the default partition,
 * anything an operator attached by hand) are never touched.
 */

export const DAY_MS = 86_400_000;
export const DEFAULT_PARTITION = 'telemetry_default';
/** Created ahead of time so a day's readings never wait for DDL at midnight. */
export const DAYS_AHEAD = 7;
/** Yesterday too: right after a first start, late readings of the previous day still get a partition. */
export const DAYS_BEHIND = 1;

const NAME = /^telemetry_p(\d{4})(\d{2})(\d{2})$/;

export interface DayPartition {
  name: string;
  /** Inclusive lower bound, `YYYY-MM-DDT00:00:00Z`. */
  from: string;
  /** Exclusive upper bound, the next midnight. */
  to: string;
}

export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** The partition of the UTC day containing `ms`. */
export function dayPartition(ms: number): DayPartition {
  const start = startOfUtcDay(ms);
  const from = new Date(start).toISOString();
  return {
    name: `telemetry_p${from.slice(0, 10).replaceAll('-', '')}`,
    from: from.replace('.000Z', 'Z'),
    to: new Date(start + DAY_MS).toISOString().replace('.000Z', 'Z'),
  };
}

/** The day a partition name stands for, or undefined for any other table. */
export function parsePartitionName(name: string): DayPartition | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`);
  if (Number.isNaN(ms)) return undefined;
  const day = dayPartition(ms);
  return day.name === name ? day : undefined;
}

export interface MaintenancePlan {
  create: DayPartition[];
  drop: DayPartition[];
}

/**
 * Days from DAYS_BEHIND before today to DAYS_AHEAD after it that have no partition yet, and
 * day partitions lying entirely before now − retention (0 keeps everything). A day is never
 * both created and dropped: creation skips days the retention would remove.
 */
export function planMaintenance(
  nowMs: number,
  existing: readonly string[],
  retentionDays: number,
): MaintenancePlan {
  const have = new Set(existing);
  const cutoff = retentionDays > 0 ? nowMs - retentionDays * DAY_MS : -Infinity;
  const today = startOfUtcDay(nowMs);
  const create: DayPartition[] = [];
  for (let d = -DAYS_BEHIND; d <= DAYS_AHEAD; d++) {
    const day = dayPartition(today + d * DAY_MS);
    if (!have.has(day.name) && Date.parse(day.to) > cutoff) create.push(day);
  }
  const drop = existing
    .map(parsePartitionName)
    .filter((day): day is DayPartition => day !== undefined && Date.parse(day.to) <= cutoff)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return { create, drop };
}
