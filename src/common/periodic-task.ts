/** What a PeriodicTask reports a failed run to (a Nest Logger fits). */
export interface TaskLogger {
  warn(message: string): void;
}

/**
 * A background chore (pruning, cleanup) run at start and then every `everyMs`: never two runs at
 * once (a tick during a run is skipped), a failed run is logged and the next tick tries again, and
 * stop() waits for a run in progress, so a shutdown does not close the pool under it.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    /** Says what failed in the warning, e.g. "pruning the journal". */
    private readonly what: string,
    private readonly work: () => Promise<unknown>,
    private readonly logger: TaskLogger,
  ) {}

  start(everyMs: number): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), everyMs).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private tick(): void {
    this.running ??= this.work()
      .then(
        () => undefined,
        (err: unknown) => this.logger.warn(`${this.what} failed: ${(err as Error).message}`),
      )
      .finally(() => (this.running = undefined));
  }
}
