import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerTask } from './forecast.worker.js';

interface Job {
  id: number;
  task: WorkerTask;
  timeoutMs: number;
  /** performance.now() when a worker took the job. */
  startedAt?: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  /** The worker has loaded its modules: a job's timeout counts from here, not from the boot. */
  ready: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
}

export class WorkerTimeout extends Error {}
/** The queue holds its maximum of jobs: the task was not queued. */
export class ForecastQueueFull extends Error {}

/**
 * Worker threads that train and forecast, so neither holds the event loop the ingest and the
 * API run on. One job per worker at a time, the rest queued up to `maxQueue` (beyond it a task is
 * refused with ForecastQueueFull, so a backlog cannot grow without bound); a job over its
 * timeout has its worker terminated (the only way to stop a busy thread) and replaced. A reply
 * that arrives after the timeout counts as timed out too, whichever the event loop ran first.
 *
 * From compiled JavaScript the worker is the sibling forecast.worker.js; when the app runs from
 * its TypeScript sources (the test suite), the worker loads them through scripts/ts-worker-loader.mjs.
 */
export class ForecastPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private next = 1;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly maxQueue = Number.POSITIVE_INFINITY,
  ) {}

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  run<T>(task: WorkerTask, timeoutMs: number): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the forecast pool is closed'));
    if (this.queue.length >= this.maxQueue)
      return Promise.reject(
        new ForecastQueueFull(`the forecast queue holds its maximum of ${this.maxQueue} jobs`),
      );
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.next++, task, timeoutMs, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the forecast pool is closed'));
    await Promise.all(
      this.slots.splice(0).map((s) => {
        clearTimeout(s.timer);
        s.job?.reject(new Error('the forecast pool is closed'));
        return s.worker.terminate();
      }),
    );
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.ready && !s.job);
      if (!slot) {
        let booting = this.slots.filter((s) => !s.ready).length;
        while (booting < this.queue.length && this.slots.length < this.size) {
          this.spawn();
          booting++;
        }
        return;
      }
      const job = this.queue.shift()!;
      slot.job = job;
      job.startedAt = performance.now();
      slot.timer = setTimeout(() => this.timedOut(slot), job.timeoutMs);
      slot.worker.postMessage({ id: job.id, task: job.task });
    }
  }

  private spawn(): void {
    const { file, execArgv } = workerEntry();
    const worker = new Worker(file, { execArgv });
    worker.unref();
    const slot: Slot = { worker, ready: false };
    worker.on('message', (reply: WorkerReply | { ready: true }) => {
      if ('ready' in reply) {
        slot.ready = true;
        this.pump();
        return;
      }
      const job = slot.job;
      if (!job || job.id !== reply.id) return;
      if (performance.now() - job.startedAt! >= job.timeoutMs) {
        this.timedOut(slot);
        return;
      }
      this.release(slot);
      if (reply.ok) job.resolve(reply.result);
      else job.reject(new Error(reply.error));
      this.pump();
    });
    worker.on('error', (err) => this.failed(slot, err));
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) this.failed(slot, new Error(`forecast worker exited with code ${code}`));
    });
    this.slots.push(slot);
  }

  private release(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.job = undefined;
  }

  private timedOut(slot: Slot): void {
    const job = slot.job;
    this.drop(slot);
    job?.reject(new WorkerTimeout(`the forecast worker took longer than ${job.timeoutMs} ms`));
    this.pump();
  }

  private failed(slot: Slot, err: Error): void {
    // A worker that cannot even start fails the next job rather than leaving it waiting forever.
    const job = slot.job ?? (slot.ready ? undefined : this.queue.shift());
    this.drop(slot);
    job?.reject(err);
    if (!this.closed) this.pump();
  }

  private drop(slot: Slot): void {
    this.release(slot);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    void slot.worker.terminate();
  }
}

function workerEntry(): { file: string; execArgv: string[] } {
  const js = fileURLToPath(new URL('./forecast.worker.js', import.meta.url));
  if (existsSync(js)) return { file: js, execArgv: [] };
  const ts = fileURLToPath(new URL('./forecast.worker.ts', import.meta.url));
  const loader = fileURLToPath(new URL('../../scripts/ts-worker-loader.mjs', import.meta.url));
  return { file: ts, execArgv: ['--import', loader] };
}
