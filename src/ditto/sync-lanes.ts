/**
 * Per-thing ordering with many things in flight. Each thing has a lane whose items run one at a
 * time in the order they were queued; up to `concurrency` lanes run at once. An item that must be
 * retried stays at the head of its lane and only that lane waits, so one failing thing never
 * holds up the others; a pause (Ditto unreachable) holds every lane.
 */

export type ItemResult = { done: true } | { retryInMs: number; pauseAll?: boolean };

export interface LaneItem {
  kind: 'entry' | 'event' | 'reconcile';
  /** For entries: the path the local change touched. */
  path?: string[];
  run(): Promise<ItemResult>;
  /** Called once the item is finished (done or dropped). */
  finished?(): void;
}

class Lane {
  readonly items: LaneItem[] = [];
  running = false;
  retryAt = 0;
  attempt = 0;
  timer: NodeJS.Timeout | null = null;
}

export class Lanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private running = 0;
  private pausedUntil = 0;
  private pauseTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly backoff: (attempt: number) => number,
    private readonly onError: (thingId: string, err: unknown) => void,
  ) {}

  push(thingId: string, item: LaneItem): void {
    const lane = this.lane(thingId);
    lane.items.push(item);
    this.wake(thingId, lane);
  }

  /** Whether local changes wait behind the item now running on the thing's lane. */
  entriesBehindHead(thingId: string): boolean {
    return this.pendingPaths(thingId).length > 0;
  }

  /** The paths of the local changes waiting behind the item now running on the thing's lane. */
  pendingPaths(thingId: string): string[][] {
    const items = this.lanes.get(thingId)?.items ?? [];
    return items.slice(1).flatMap((i) => (i.kind === 'entry' && i.path ? [i.path] : []));
  }

  get paused(): boolean {
    return Date.now() < this.pausedUntil;
  }

  get size(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.items.length;
    return n;
  }

  /**
   * Starts nothing more and resolves once the items already running have returned, so nothing
   * of the sync still touches the database when the app closes its pools. Waits at most
   * `waitMs`: a request Ditto never answers must not hold the shutdown.
   */
  async stop(waitMs = 10_000): Promise<void> {
    this.stopped = true;
    for (const lane of this.lanes.values()) if (lane.timer) clearTimeout(lane.timer);
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    if (this.running === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.idle.push(resolve);
      timer = setTimeout(resolve, waitMs);
    });
    clearTimeout(timer);
  }

  private lane(thingId: string): Lane {
    let lane = this.lanes.get(thingId);
    if (!lane) {
      lane = new Lane();
      this.lanes.set(thingId, lane);
    }
    return lane;
  }

  private wake(thingId: string, lane: Lane): void {
    if (lane.running || lane.items.length === 0 || this.queued.has(thingId) || lane.timer) return;
    this.queued.add(thingId);
    this.ready.push(thingId);
    this.drain();
  }

  private drain(): void {
    if (this.stopped) return;
    // Timers may fire a millisecond before Date.now() reaches the end of the pause: look again then.
    if (this.paused && this.ready.length > 0 && !this.pauseTimer) this.armPauseTimer();
    while (this.running < this.concurrency && this.ready.length > 0 && !this.paused) {
      const thingId = this.ready.shift() as string;
      this.queued.delete(thingId);
      const lane = this.lanes.get(thingId);
      if (!lane || lane.running || lane.items.length === 0) continue;
      lane.running = true;
      this.running++;
      void this.runHead(thingId, lane);
    }
  }

  private async runHead(thingId: string, lane: Lane): Promise<void> {
    const item = lane.items[0];
    let result: ItemResult;
    try {
      result = await item.run();
    } catch (err) {
      // A bug or an unexpected answer: report it and try the item again later, never drop it.
      // Once stopping, a failure is the closing itself; the item stays unfinished for the next run.
      if (!this.stopped) this.onError(thingId, err);
      result = { retryInMs: this.backoff(lane.attempt) };
    }
    lane.running = false;
    this.running--;
    if ('done' in result) {
      lane.items.shift();
      lane.attempt = 0;
      item.finished?.();
      if (lane.items.length === 0) this.lanes.delete(thingId);
      else this.wake(thingId, lane);
    } else if (!this.stopped) {
      lane.attempt++;
      if (result.pauseAll) this.pause(result.retryInMs);
      lane.timer = setTimeout(() => {
        lane.timer = null;
        this.wake(thingId, lane);
      }, result.retryInMs);
    }
    if (this.stopped && this.running === 0) for (const resolve of this.idle.splice(0)) resolve();
    this.drain();
  }

  private pause(ms: number): void {
    const until = Date.now() + ms;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    this.armPauseTimer();
  }

  private armPauseTimer(): void {
    this.pauseTimer = setTimeout(
      () => {
        this.pauseTimer = null;
        this.drain();
      },
      Math.max(1, this.pausedUntil - Date.now() + 2),
    );
  }
}

/**
 * The persisted cursor: the seq below which every journal entry is finished. Entries finish out
 * of order (lanes run in parallel), so the cursor is the seq just before the oldest unfinished one.
 */
export class CursorTracker {
  private readonly open: { seq: string; at: string; done: boolean }[] = [];
  private head = 0;

  constructor(private last: string) {}

  /** Registers an entry read from the journal; call finish() when it is delivered or given up. */
  add(seq: string, at: string): () => void {
    const slot = { seq, at, done: false };
    this.open.push(slot);
    return () => {
      slot.done = true;
      this.advance();
    };
  }

  get cursor(): string {
    return this.last;
  }

  get unfinished(): number {
    let n = 0;
    for (let i = this.head; i < this.open.length; i++) if (!this.open[i].done) n++;
    return n;
  }

  /** When the oldest unfinished change was made, or null when everything read is finished. */
  get oldestUnfinishedAt(): string | null {
    for (let i = this.head; i < this.open.length; i++) if (!this.open[i].done) return this.open[i].at;
    return null;
  }

  private advance(): void {
    while (this.head < this.open.length && this.open[this.head].done) {
      this.last = this.open[this.head].seq;
      this.head++;
    }
    // Compact now and then so the array does not grow without bound.
    if (this.head > 4096 && this.head * 2 > this.open.length) {
      this.open.splice(0, this.head);
      this.head = 0;
    }
  }
}
