import type { ChildProcess } from 'node:child_process';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { benchAuthHeaders } from './auth.js';
import { benchDatabase, machine, startServer, stopServer } from './support.js';
import type { WriteTimes } from './realtime-target.js';

/**
 * `npm run bench:realtime`: BENCH_CLIENTS WebSocket clients on /ws/2 while changes are made at 100/s (for
 * the unloaded latency), 1k/s and 5k/s (TwinsService.applyMany in the server process, one batch per 10 ms), against a bare `ws`
 * server broadcasting messages of the same shape in the same run. Prints change→client latency
 * (p50/p99) and delivered events/s with the ratio to the baseline, the server's CPU per 1,000
 * deliveries, and the same less what making the changes costs alone (a third run with no client);
 * asserts nothing. BENCH_SHAPES spreads the clients over that many different (all-matching)
 * filters: streams subscribed alike share each event's rendering, different ones do not.
 * Goal (issue 16): p99 < 50 ms at 5,000 changes/s × 100 clients, CPU per delivery ≤ 1.5 × raw ws.
 */
/** BENCH_CLIENTS: one count or several (`10,100,1000`): every rate is measured at each. */
const CLIENT_COUNTS = (process.env.BENCH_CLIENTS ?? '100').split(',').map(Number);
/** As many things as the target changes in turn (its BENCH_THINGS). */
const THINGS = Number(process.env.BENCH_THINGS ?? 1000);
const SHAPES = Math.max(1, Number(process.env.BENCH_SHAPES ?? 1));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATES = (process.env.BENCH_RATES ?? '100,1000,5000').split(',').map(Number);
const target = fileURLToPath(new URL('./realtime-target.js', import.meta.url));
const now = () => performance.timeOrigin + performance.now();
/** Where a change's creation time starts in its envelope (`value.t`). */
const T_KEY = Buffer.from('"t":');

/** Latency histogram in 0.1 ms buckets up to 60 s. */
class Histogram {
  private readonly buckets = new Uint32Array(600_000);
  count = 0;
  add(ms: number): void {
    this.buckets[Math.min(this.buckets.length - 1, Math.max(0, Math.round(ms * 10)))]++;
    this.count++;
  }
  percentile(p: number): number {
    let seen = 0;
    const wanted = Math.ceil(this.count * p);
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= wanted) return i / 10;
    }
    return NaN;
  }
}

interface Result {
  rate: number;
  made: number;
  delivered: number;
  perSec: number;
  p50: number;
  p99: number;
  closed: number;
  /** Server CPU per 1,000 deliveries. */
  cpuPer1k: number;
  /** Server CPU over the run. */
  cpuMs: number;
  /** Making the changes, per tick: part of every change's latency. */
  write: WriteTimes;
  /** Full garbage collections of this (the receiving) process in the measured window. */
  receiverGcs: { count: number; maxMs: number };
}

/**
 * This process receives for every client, so its own full garbage collections stall deliveries
 * it then times as late, whichever server sent them: each row says how many ran in its window.
 */
const fullGcs: { at: number; ms: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if ((e as { detail?: { kind?: number } }).detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR)
      fullGcs.push({ at: performance.timeOrigin + e.startTime, ms: e.duration });
}).observe({ entryTypes: ['gc'] });

function fullGcsSince(start: number): { count: number; maxMs: number } {
  const mine = fullGcs.filter((g) => g.at >= start);
  return { count: mine.length, maxMs: Math.max(0, ...mine.map((g) => g.ms)) };
}

class Clients {
  histogram = new Histogram();
  delivered = 0;
  last = 0;
  closed = 0;
  private sockets: WebSocket[] = [];

  /** `headers` go on every upgrade request (the platform's wants credentials). */
  async open(url: string, subscribe: boolean, headers: Record<string, string>, count: number): Promise<void> {
    this.sockets = await Promise.all(
      Array.from({ length: count }, (_, k) => {
        const ws = new WebSocket(url, { skipUTF8Validation: true, headers });
        return new Promise<WebSocket>((ok, fail) => {
          ws.once('error', fail);
          ws.once('unexpected-response', (_req, res) =>
            fail(new Error(`the upgrade was answered ${res.statusCode}`)),
          );
          ws.once('open', () => {
            if (!subscribe) return ok(ws);
            ws.once('message', () => ok(ws)); // START-SEND-EVENTS:ACK
            ws.send(
              SHAPES > 1
                ? `START-SEND-EVENTS?filter=gt(_revision,${-1 - (k % SHAPES)})`
                : 'START-SEND-EVENTS',
            );
          });
        });
      }),
    );
    for (const ws of this.sockets) {
      ws.on('message', (data: Buffer) => this.onMessage(data));
      ws.on('close', () => this.closed++);
    }
  }

  reset(): void {
    this.histogram = new Histogram();
    this.delivered = 0;
  }

  /**
   * The change's creation time, read without parsing the envelope or copying it into a string:
   * this one process receives for every client, and what it allocates per message makes its own
   * garbage collections, which would show as latency of whatever arrives meanwhile.
   */
  private onMessage(data: Buffer): void {
    const at = now();
    const k = data.indexOf(T_KEY);
    if (k < 0) return;
    const t = parseFloat(data.toString('latin1', k + T_KEY.length, k + T_KEY.length + 26));
    if (t === 0) return;
    this.histogram.add(at - t);
    this.delivered++;
    this.last = at;
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
  }
}

function ask<T>(child: ChildProcess, message: unknown): Promise<T> {
  return new Promise((ok) => {
    child.once('message', (m: T) => ok(m));
    child.send(message as object);
  });
}

async function produce(
  child: ChildProcess,
  rate: number,
  seconds: number,
): Promise<{ made: number; write: WriteTimes }> {
  return ask<{ made: number; write: WriteTimes }>(child, { rate, seconds });
}

/** `count` 0: the same changes with nobody subscribed, for what making them costs the server. */
async function measure(mode: 'app' | 'raw', url: string, rate: number, count: number): Promise<Result> {
  const { port, child } = await startServer(target, [mode], { DATABASE_URL: url }, mode === 'app');
  const clients = new Clients();
  try {
    await clients.open(
      mode === 'app' ? `ws://127.0.0.1:${port}/ws/2` : `ws://127.0.0.1:${port}`,
      mode === 'app',
      mode === 'app' ? benchAuthHeaders() : {},
      count,
    );
    // Warm-up (JIT, pool, compiled policies): every thing changes at least once, all delivered.
    const warm = await produce(child, Math.max(rate, THINGS), 1);
    await settle(clients, warm.made * count);
    clients.reset();
    const start = now();
    const { made, write } = await produce(child, rate, SECONDS);
    await settle(clients, made * count);
    const { cpuMs } = await ask<{ cpuMs: number }>(child, 'cpu');
    const elapsed = (Math.max(clients.last, start + SECONDS * 1000) - start) / 1000;
    return {
      rate,
      made,
      delivered: clients.delivered,
      perSec: clients.delivered / elapsed,
      p50: clients.histogram.percentile(0.5),
      p99: clients.histogram.percentile(0.99),
      closed: clients.closed,
      cpuPer1k: (cpuMs / clients.delivered) * 1000,
      cpuMs,
      write,
      receiverGcs: fullGcsSince(start),
    };
  } finally {
    clients.close();
    await stopServer(child);
  }
}

/** Waits until `expected` deliveries arrived, or none for 3 s (some were lost: the row says so). */
async function settle(clients: Clients, expected: number): Promise<void> {
  let before = -1;
  let still = 0;
  while (clients.delivered < expected && still < 3000) {
    still = clients.delivered === before ? still + 100 : 0;
    before = clients.delivered;
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/**
 * The platform's server CPU also pays for making the changes (transactions, journal), which the
 * bare server does not: `writes` is a run of the same changes with no client, and what the
 * clients add over it, per 1,000 deliveries, is the fan-out's own cost.
 */
function row(ours: Result, raw: Result, writes: Result, clients: number): string {
  const n = (v: number, w = 8) => v.toFixed(0).padStart(w);
  const ms = (v: number) => v.toFixed(1).padStart(7);
  const fanout = ((ours.cpuMs - writes.cpuMs) / ours.delivered) * 1000;
  const gcs = (r: Result) => `${r.receiverGcs.count} (max ${r.receiverGcs.maxMs.toFixed(0)} ms)`;
  const lost =
    ours.delivered < ours.made * clients
      ? `  (${ours.made * clients - ours.delivered} not delivered, ${ours.closed} closed)`
      : '';
  return (
    `${n(clients, 5)} clients ${n(ours.rate, 5)}/s (made ${n(ours.made / SECONDS, 5)}/s) | platform ${n(ours.perSec)} ev/s p50 ${ms(ours.p50)} ms p99 ${ms(ours.p99)} ms ${ms(ours.cpuPer1k)} cpu-ms/1k` +
    ` | raw ws ${n(raw.perSec)} ev/s p50 ${ms(raw.p50)} ms p99 ${ms(raw.p99)} ms ${ms(raw.cpuPer1k)} cpu-ms/1k` +
    ` | ratio ev/s ${(ours.perSec / raw.perSec).toFixed(2)}, p50 ×${(ours.p50 / raw.p50).toFixed(1)}, p99 ×${(ours.p99 / raw.p99).toFixed(1)}, cpu ×${(ours.cpuPer1k / raw.cpuPer1k).toFixed(1)}` +
    ` | fan-out alone ${ms(fanout)} cpu-ms/1k ×${(fanout / raw.cpuPer1k).toFixed(1)} (writes alone ${n(writes.cpuMs / SECONDS, 0)} cpu-ms/s)` +
    ` | platform's batch commits p50 ${ms(ours.write.p50)} p99 ${ms(ours.write.p99)} max ${ms(ours.write.max)} ms, largest ${ours.write.largestBatch} changes` +
    ` | receiver's full GCs ${gcs(ours)} / ${gcs(raw)}${lost}`
  );
}

const db = await benchDatabase();
try {
  console.log(`machine: ${machine()}`);
  console.log(
    `${CLIENT_COUNTS.join(' / ')} WebSocket clients (${SHAPES} subscription shape${SHAPES > 1 ? 's' : ''}), ${SECONDS} s per rate; changes through TwinsService.applyMany in the server process (one batch per 10 ms tick)`,
  );
  // What making the changes costs the server alone does not depend on the clients: once per rate.
  const writes = new Map<number, Result>();
  for (const rate of RATES) writes.set(rate, await measure('app', db.url, rate, 0));
  const lines: string[] = [];
  for (const clients of CLIENT_COUNTS) {
    for (const rate of RATES) {
      const app = await measure('app', db.url, rate, clients);
      const raw = await measure('raw', db.url, rate, clients);
      lines.push(row(app, raw, writes.get(rate) as Result, clients));
      console.log(lines[lines.length - 1]);
    }
  }
  if (CLIENT_COUNTS.length > 1) console.log(`\nhow it grows with the clients:\n${lines.join('\n')}`);
} finally {
  await db.close();
}
