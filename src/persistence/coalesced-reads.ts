import DataLoader from 'dataloader';

/** One read by key; undefined when nothing has the key. */
export interface CoalescedReads<K, V> {
  load(key: K): Promise<V | undefined>;
}

export interface CoalescingOptions {
  /** Statements of this reader running at once; requests beyond wait and go together. */
  concurrency: number;
  /** Keys in one statement at most. */
  maxBatch: number;
}

/**
 * Reads by key that share statements under load: while `concurrency` statements run, the keys
 * asked for meanwhile collect and go in one statement when the next may start. Alone, a read is
 * sent at once (next tick), so a quiet system answers as before; under load fifty GETs cost a few
 * round trips instead of fifty, which is what a read by id spent most of its time on (the
 * socket write to PostgreSQL, the pool, and a statement each on the server).
 *
 * Nothing is cached (DataLoader's memo is off): every read starts its statement after it was
 * asked for, so it sees every write committed before it, as a statement of its own would.
 */
export function coalescedReads<K, V>(
  load: (keys: readonly K[]) => Promise<ReadonlyMap<K, V>>,
  options: CoalescingOptions,
): CoalescedReads<K, V> {
  const gate = new Gate(options.concurrency);
  return new DataLoader<K, V | undefined>(
    async (keys) => {
      try {
        const found = await load(keys);
        return keys.map((k) => found.get(k));
      } finally {
        gate.ended();
      }
    },
    { cache: false, maxBatchSize: options.maxBatch, batchScheduleFn: (dispatch) => gate.schedule(dispatch) },
  );
}

/**
 * When DataLoader may send the batch it is collecting. Only one batch collects at a time (a new
 * one begins when the last is sent, or is full), so a batch waiting here keeps growing until a
 * running statement ends and hands its slot on.
 */
class Gate {
  /** Batches sent or about to be (a slot is taken when the dispatch is scheduled). */
  private taken = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency: number) {}

  schedule(dispatch: () => void): void {
    if (this.taken < this.concurrency) {
      this.taken++;
      process.nextTick(dispatch);
    } else this.waiting.push(dispatch);
  }

  ended(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.taken--;
  }
}
