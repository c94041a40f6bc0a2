import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { benchAuthHeaders } from './auth.js';
import { benchDatabase, machine, startServer, stopServer } from './support.js';

/**
 * `npm run bench:realtime`: CLIENTS WebSocket clients on /ws/2 while changes are made at 100/s (for
 * the unloaded latency), 1k/s and 5k/s (TwinsService.applyMany in the server process, one batch per 10 ms), against a bare `ws`
 * server broadcasting messages of the same shape in the same run. Prints change→client latency
 * (p50/p99) and delivered events/s with the ratio to the baseline; asserts nothing.
 */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATES = (process.env.BENCH_RATES ?? '100,1000,5000').split(',').map(Number);
const target = fileURLToPath(new URL('./realtime-target.js', import.meta.url));
const now = () => performance.timeOrigin + performance.now();

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
}

class Clients {
  histogram = new Histogram();
  delivered = 0;
  last = 0;
  closed = 0;
  private sockets: WebSocket[] = [];

  /** `headers` go on every upgrade request (the platform's wants credentials). */
  async open(url: string, subscribe: boolean, headers: Record<string, string> = {}): Promise<void> {
    this.sockets = await Promise.all(
      Array.from({ length: CLIENTS }, () => {
        const ws = new WebSocket(url, { skipUTF8Validation: true, headers });
        return new Promise<WebSocket>((ok, fail) => {
          ws.once('error', fail);
          ws.once('unexpected-response', (_req, res) =>
            fail(new Error(`the upgrade was answered ${res.statusCode}`)),
          );
          ws.once('open', () => {
            if (!subscribe) return ok(ws);
            ws.once('message', () => ok(ws)); // START-SEND-EVENTS:ACK
            ws.send('START-SEND-EVENTS');
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

  /** The change's creation time, read without parsing the whole envelope. */
  private onMessage(data: Buffer): void {
    const at = now();
    const text = data.toString('latin1');
    const k = text.indexOf('"t":');
    if (k < 0) return;
    const t = parseFloat(text.slice(k + 4, k + 30));
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

async function produce(child: ChildProcess, rate: number, seconds: number): Promise<number> {
  return (await ask<{ made: number }>(child, { rate, seconds })).made;
}

async function measure(mode: 'app' | 'raw', url: string, rate: number): Promise<Result> {
  const { port, child } = await startServer(target, [mode], { DATABASE_URL: url });
  const clients = new Clients();
  try {
    await clients.open(
      mode === 'app' ? `ws://127.0.0.1:${port}/ws/2` : `ws://127.0.0.1:${port}`,
      mode === 'app',
      mode === 'app' ? benchAuthHeaders() : {},
    );
    await produce(child, rate, 1); // warm-up: JIT, pool, caches
    await settle(clients);
    clients.reset();
    const start = now();
    const made = await produce(child, rate, SECONDS);
    await settle(clients);
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
    };
  } finally {
    clients.close();
    await stopServer(child);
  }
}

/** Waits until deliveries stop (500 ms without a message). */
async function settle(clients: Clients): Promise<void> {
  let before = -1;
  while (clients.delivered !== before) {
    before = clients.delivered;
    await new Promise((ok) => setTimeout(ok, 500));
  }
}

function row(ours: Result, raw: Result): string {
  const n = (v: number, w = 8) => v.toFixed(0).padStart(w);
  const ms = (v: number) => v.toFixed(1).padStart(7);
  const lost =
    ours.delivered < ours.made * CLIENTS
      ? `  (${ours.made * CLIENTS - ours.delivered} not delivered, ${ours.closed} closed)`
      : '';
  return (
    `${n(ours.rate, 5)}/s (made ${n(ours.made / SECONDS, 5)}/s) | platform ${n(ours.perSec)} ev/s p50 ${ms(ours.p50)} ms p99 ${ms(ours.p99)} ms ${ms(ours.cpuPer1k)} cpu-ms/1k` +
    ` | raw ws ${n(raw.perSec)} ev/s p50 ${ms(raw.p50)} ms p99 ${ms(raw.p99)} ms ${ms(raw.cpuPer1k)} cpu-ms/1k` +
    ` | ratio ev/s ${(ours.perSec / raw.perSec).toFixed(2)}, p50 ×${(ours.p50 / raw.p50).toFixed(1)}, cpu ×${(ours.cpuPer1k / raw.cpuPer1k).toFixed(1)}${lost}`
  );
}

const db = await benchDatabase();
try {
  console.log(`machine: ${machine()}`);
  console.log(
    `${CLIENTS} WebSocket clients, ${SECONDS} s per rate; changes through TwinsService.applyMany in the server process (one batch per 10 ms tick)`,
  );
  const lines: string[] = [];
  for (const rate of RATES) {
    const app = await measure('app', db.url, rate);
    const raw = await measure('raw', db.url, rate);
    lines.push(row(app, raw));
    console.log(lines[lines.length - 1]);
  }
} finally {
  await db.close();
}
