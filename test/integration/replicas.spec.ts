import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import WebSocket from 'ws';
import { authHeaders, inheritedEnvWithoutAuth, withTestAuth } from '../support/auth.js';
import { createTestDatabase } from '../support/database.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import { dropSession, freePort, uniqueNamespace, waitFor } from '../support/mqtt.js';

/**
 * Three replicas as separate processes (the built app, as `npm start` runs it) on one database
 * and one Mosquitto (the machine's, MQTT_TEST_URL), consuming through one shared subscription,
 * each with a stable client id of its own (as a StatefulSet's pod name gives it). 200 devices
 * publish QoS 1 readings, one round every ROUND_MS; 20 WebSocket clients are spread over the
 * replicas. One replica is SIGKILLed mid-stream and started again, then all three are restarted
 * one at a time with SIGTERM. Every reading the broker acknowledged must be stored exactly once,
 * and every WebSocket client must see every change of the journal, in order, resuming with the
 * last event id it saw on whichever replica is up.
 */
const REPLICAS = 3;
const DEVICES = 200;
const WATCHERS = 20;
/**
 * One reading per device per round: 200 readings every 5 s. Mosquitto 2 goes on handing a
 * SIGKILLed replica its share (a third: ~13 a second), queued for its session until it is back,
 * and the machine's packaged Mosquitto queues at most 1000 per session (max_queued_messages; the
 * deploy/ configurations raise it), dropping the rest. This rate gives a restart under heavy CPU
 * load 75 s before the broker would drop readings.
 */
const ROUND_MS = 5000;
const MAIN = 'dist/src/main.js';
const BROKER = process.env.MQTT_TEST_URL || 'mqtt://127.0.0.1:1883';
const ns = uniqueNamespace('replicas');
const thingIds = Array.from({ length: DEVICES }, (_, i) => `${ns}:d${i}`);

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** One platform process: a fixed port and MQTT client id that survive its restarts. */
class Replica {
  child: ChildProcess | undefined;
  ready = false;
  output = '';
  constructor(
    readonly index: number,
    readonly port: number,
    private readonly databaseUrl: string,
  ) {}

  get clientId(): string {
    return `${ns}-replica-${this.index}`;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws/2`;
  }

  /** Starts the process and waits for GET /health/ready (database, migrations, broker, feed). */
  async start(): Promise<void> {
    this.output += `\n=== start ${new Date().toISOString()}\n`;
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...inheritedEnvWithoutAuth(),
        ...withTestAuth(),
        DATABASE_URL: this.databaseUrl,
        MQTT_URL: BROKER,
        MQTT_CLIENT_ID: this.clientId,
        MQTT_SHARE_GROUP: ns,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        DEVICE_INACTIVITY_TIMEOUT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', () => (this.ready = false));
    await waitFor(
      `replica ${this.index} to be ready`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`replica ${this.index} exited early:\n${this.output.slice(-3000)}`);
        }
        const res = await fetch(`${this.baseUrl}/health/ready`);
        return res.status === 200;
      },
      90_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.output.slice(-3000)}`);
    });
    this.ready = true;
  }

  /** Sends the signal and waits for the process to end; its exit code (null after SIGKILL). */
  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    this.ready = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    return new Promise((ok) => {
      child.once('exit', (code) => ok(code));
      child.kill(signal);
    });
  }

  /** Lines "connected to … (session present: …)" of the MQTT client, in order. */
  sessionsPresent(): boolean[] {
    return [...this.output.matchAll(/session present: (true|false)/g)].map((m) => m[1] === 'true');
  }
}

interface Seen {
  id: bigint;
  thingId: string;
  reading: number | undefined;
  at: number;
}

/** The reading number (the value of features/r/properties/n) an event carries, if it carries one. */
function readingOf(path: string, value: unknown): number | undefined {
  const target = ['features', 'r', 'properties', 'n'];
  const parts = path.split('/').filter(Boolean);
  if (parts.some((p, i) => target[i] !== p)) return undefined;
  let v = value;
  for (const key of target.slice(parts.length)) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return typeof v === 'number' ? v : undefined;
}

/**
 * A WebSocket client that stays subscribed: when its replica goes away it signs in to the next
 * one that is up and resumes with `from-event-id` = the last event id it saw.
 */
class Watcher {
  readonly seen: Seen[] = [];
  reconnects = 0;
  private lastId: string;
  private socket: WebSocket | undefined;
  private finished = false;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly preferred: number,
    private readonly replicas: Replica[],
    fromId: string,
  ) {
    this.lastId = fromId;
  }

  connect(): Promise<void> {
    this.connecting ??= this.attach().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async attach(): Promise<void> {
    for (let attempt = 0; !this.finished; attempt++) {
      const replica = this.replicas[(this.preferred + attempt) % this.replicas.length];
      if (replica.ready) {
        try {
          await this.open(replica);
          return;
        } catch {
          // That replica went away meanwhile: the next one.
        }
      }
      await sleep(100);
    }
  }

  private open(replica: Replica): Promise<void> {
    const ws = new WebSocket(replica.wsUrl, { headers: authHeaders() });
    return new Promise((ok, fail) => {
      let subscribed = false;
      ws.once('unexpected-response', () => fail(new Error('upgrade refused')));
      ws.once('error', (err) => fail(err));
      ws.once('open', () => {
        ws.send(`START-SEND-EVENTS?namespaces=${ns}&from-event-id=${this.lastId}`);
      });
      ws.on('message', (data) => {
        const text = (data as Buffer).toString('utf8');
        if (text === 'START-SEND-EVENTS:ACK') {
          subscribed = true;
          this.socket = ws;
          ok();
          return;
        }
        if (!text.startsWith('{')) return;
        const m = JSON.parse(text) as {
          topic: string;
          path: string;
          value?: unknown;
          headers: Record<string, unknown>;
        };
        if (!m.topic.includes('/things/twin/events/')) return;
        const [namespace, name] = m.topic.split('/');
        const id = String(m.headers['event-id']);
        this.seen.push({
          id: BigInt(id),
          thingId: `${namespace}:${name}`,
          reading: readingOf(m.path, m.value),
          at: Date.now(),
        });
        this.lastId = id;
      });
      ws.once('close', () => {
        if (!subscribed) {
          fail(new Error('closed before subscribing'));
          return;
        }
        if (this.socket === ws) this.socket = undefined;
        if (this.finished) return;
        this.reconnects++;
        void this.connect();
      });
    });
  }

  async close(): Promise<void> {
    this.finished = true;
    const ws = this.socket;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((ok) => {
      ws.once('close', () => ok());
      ws.close();
    });
  }
}

let database: { url: string; drop: () => Promise<void> };
let db: pg.Client;
const replicas: Replica[] = [];
let devices: MqttClient[] = [];
let watchers: Watcher[] = [];

beforeAll(async () => {
  // The children run the compiled app, as `npm start` does (incremental: only what changed). A
  // type error elsewhere in the tree (a bench script mid-edit) does not stop tsc emitting.
  const build = spawnSync(
    process.execPath,
    ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'],
    {
      encoding: 'utf8',
    },
  );
  if (build.status !== 0)
    process.stderr.write(`tsc reported errors; running what it emitted:\n${build.stdout}`);
  if (!existsSync(MAIN)) throw new Error(`${MAIN} was not built`);
  database = await createTestDatabase();
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
}, 300_000);

afterAll(async () => {
  await Promise.all(watchers.map((w) => w.close()));
  await Promise.all(devices.map((d) => d.endAsync(true)));
  await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
  // The replicas' persistent sessions would otherwise keep taking a share of nothing, forever.
  for (const r of replicas) await dropSession(BROKER, r.clientId).catch(() => undefined);
  await db?.end();
  await database?.drop();
});

async function storedReadings(): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM telemetry_readings WHERE thing_id LIKE $1`,
    [`${ns}:%`],
  );
  return rows[0].n;
}

/** Waits until `more` readings beyond `from` are stored: the replicas up keep committing. */
async function committedBeyond(from: number, more: number, what: string): Promise<number> {
  return waitFor(
    what,
    async () => {
      const n = await storedReadings();
      return n >= from + more ? n : undefined;
    },
    60_000,
  );
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

describe('three replicas through a SIGKILL and a rolling restart', () => {
  it('store every acknowledged reading once and show every change to every client, in order', async () => {
    const began = Date.now();
    const log: string[] = [];
    const phase = (what: string) => log.push(`${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`);
    const ports = await Promise.all(Array.from({ length: REPLICAS }, () => freePort()));
    for (let i = 0; i < REPLICAS; i++) replicas.push(new Replica(i, ports[i], database.url));
    // The first one migrates the empty database; the other two then start side by side.
    await replicas[0].start();
    await Promise.all(replicas.slice(1).map((r) => r.start()));
    phase('3 replicas ready');

    const secrets = await provisionDevices(replicas[0].baseUrl, thingIds);
    devices = await Promise.all(thingIds.map((id) => connectAs(BROKER, id, secrets.get(id)!)));

    // Every watcher starts right after the provisioning's changes, whatever its replica dispatched.
    const { rows: head } = await db.query<{ seq: string }>(
      `SELECT coalesce(max(seq), 0)::text AS seq FROM journal`,
    );
    const startSeq = head[0].seq;
    watchers = Array.from({ length: WATCHERS }, (_, i) => new Watcher(i % REPLICAS, replicas, startSeq));
    await Promise.all(watchers.map((w) => w.connect()));
    phase('200 devices and 20 watchers connected');

    // The devices: round n publishes reading n of every device at QoS 1 (resolved on PUBACK).
    const sentAt = new Map<string, number>();
    let rounds = 0;
    let stopping = false;
    const publishing = (async () => {
      while (!stopping) {
        const n = rounds;
        const began = Date.now();
        await Promise.all(
          devices.map((device, i) => {
            sentAt.set(`${thingIds[i]}#${n}`, Date.now());
            const body = JSON.stringify({ ts: Date.now(), seq: n, features: { r: { n } } });
            return device.publishAsync(`things/${thingIds[i]}/telemetry`, body, { qos: 1 });
          }),
        );
        rounds++;
        await sleep(Math.max(0, ROUND_MS - (Date.now() - began)));
      }
    })();

    let killedAt = 0;
    let backAt = 0;
    try {
      let stored = await committedBeyond(0, 2 * DEVICES, 'two rounds stored');

      // SIGKILL replica 1 mid-stream; the other two go on while it is down.
      phase('SIGKILL replica 1');
      killedAt = Date.now();
      expect(await replicas[1].stop('SIGKILL')).toBeNull();
      stored = await committedBeyond(stored, DEVICES, 'a round stored while replica 1 is down');
      const downFor = Date.now() - killedAt;
      await replicas[1].start();
      backAt = Date.now();
      log.push(`replica 1 down ${backAt - killedAt} ms (SIGKILL → ready; restarted after ${downFor} ms)`);
      // It returned to the session Mosquitto kept for its client id (and whatever was queued there).
      expect(replicas[1].sessionsPresent().at(-1)).toBe(true);
      stored = await committedBeyond(stored, 2 * DEVICES, 'two rounds after the restart');

      // A rolling restart: SIGTERM one replica at a time, each drains and exits 0, then comes back.
      for (const replica of replicas) {
        const began = Date.now();
        expect(await replica.stop('SIGTERM')).toBe(0);
        const stoppedIn = Date.now() - began;
        await replica.start();
        log.push(
          `replica ${replica.index}: SIGTERM → exit ${stoppedIn} ms, → ready again ${Date.now() - began} ms`,
        );
        stored = await committedBeyond(stored, DEVICES, `a round after restarting replica ${replica.index}`);
      }
    } finally {
      stopping = true;
      await publishing;
    }

    const total = rounds * DEVICES;
    phase(`publishing stopped after ${rounds} rounds`);
    process.stdout.write(`\nreplicas.spec phases:\n  ${log.join('\n  ')}\n`);
    await waitFor(
      `all ${total} readings stored`,
      async () => ((await storedReadings()) === total ? true : undefined),
      60_000,
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message} (stored ${await storedReadings()})\n${replicas.map((r) => `--- replica ${r.index}\n${r.output.slice(-2000)}`).join('\n')}`,
      );
    });

    // Exactly once: as many distinct (device, reading) pairs as rows, one per published reading.
    const { rows: keys } = await db.query<{ rows: number; distinct: number; min: number; max: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT (thing_id, seq))::int AS distinct,
              min(seq)::int AS min, max(seq)::int AS max
         FROM telemetry_readings WHERE thing_id LIKE $1`,
      [`${ns}:%`],
    );
    expect(keys[0]).toEqual({ rows: total, distinct: total, min: 0, max: rounds - 1 });
    // Each twin holds its device's last reading, and its revision counts its journal entries.
    const { rows: twins } = await db.query<{
      thing_id: string;
      n: number;
      revision: string;
      changes: number;
    }>(
      `SELECT thing_id, (doc #>> '{features,r,properties,n}')::int AS n, revision::text,
              (SELECT count(*) FROM journal j WHERE j.thing_id = t.thing_id AND j.entity = 'thing')::int AS changes
         FROM things t WHERE thing_id LIKE $1`,
      [`${ns}:%`],
    );
    expect(twins).toHaveLength(DEVICES);
    for (const t of twins)
      expect([t.thing_id, t.n, Number(t.revision)]).toEqual([t.thing_id, rounds - 1, t.changes]);

    // Every change after the start, as the journal has it: what each watcher must have seen.
    const { rows: journal } = await db.query<{ seq: string; thing_id: string }>(
      `SELECT j.seq::text AS seq, j.thing_id FROM journal j
        WHERE j.entity = 'thing' AND j.thing_id LIKE $1 AND j.seq > $2 ORDER BY j.seq`,
      [`${ns}:%`, startSeq],
    );
    const expected = journal.map((e) => `${e.seq} ${e.thing_id}`);
    await waitFor(
      'every watcher to see every change',
      () => watchers.every((w) => w.seen.length >= expected.length),
      60_000,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: ${watchers.map((w) => w.seen.length).join(',')} of ${expected.length}`,
      );
    });
    for (const w of watchers) {
      // Same entries, same order: nothing missed, nothing twice, across its reconnects.
      expect(w.seen.map((s) => `${s.id} ${s.thingId}`)).toEqual(expected);
    }
    // Every watcher lost its replica at least once (the rolling restart stops each of them).
    expect(watchers.every((w) => w.reconnects >= 1)).toBe(true);

    // How long readings waited from PUBACK-ed publish to the first WebSocket client that saw them.
    const firstSeen = new Map<string, number>();
    for (const w of watchers) {
      for (const s of w.seen) {
        if (s.reading === undefined) continue;
        const key = `${s.thingId}#${s.reading}`;
        const at = firstSeen.get(key);
        if (at === undefined || s.at < at) firstSeen.set(key, s.at);
      }
    }
    const waits: number[] = [];
    const killWindow: number[] = [];
    for (const [key, at] of firstSeen) {
      const sent = sentAt.get(key);
      if (sent === undefined) continue;
      waits.push(at - sent);
      if (sent >= killedAt && sent < backAt) killWindow.push(at - sent);
    }
    // The same from the database: a reading's ts (its publish time) to its row's received_at
    // (the start of the transaction that stored it), overall and for those published while
    // replica 1 was down.
    const { rows: stored } = await db.query<{ all: number[]; kill: number[] }>(
      `SELECT array_agg(ms ORDER BY ms) AS all,
              coalesce(array_agg(ms ORDER BY ms) FILTER (WHERE at >= $2 AND at < $3), '{}') AS kill
         FROM (SELECT (extract(epoch FROM t.received_at - t.ts) * 1000)::int AS ms,
                      (extract(epoch FROM t.ts) * 1000)::bigint AS at
                 FROM telemetry t JOIN telemetry_series s ON s.id = t.series_id
                WHERE s.thing_id LIKE $1) r`,
      [`${ns}:%`, killedAt, backAt],
    );
    const dbAll = stored[0].all;
    const dbKill = stored[0].kill;
    log.push(
      `publish → stored (database): p50 ${quantile(dbAll, 0.5)} ms, p99 ${quantile(dbAll, 0.99)} ms, max ${dbAll.at(-1)} ms; ` +
        `published while replica 1 was down: ${dbKill.length}, p50 ${quantile(dbKill, 0.5)} ms, max ${dbKill.at(-1)} ms, ` +
        `${dbKill.filter((ms) => ms > 2 * ROUND_MS).length} waited over ${(2 * ROUND_MS) / 1000} s`,
    );
    waits.sort((a, b) => a - b);
    killWindow.sort((a, b) => a - b);
    const held = killWindow.filter((ms) => ms > 1000).length;
    log.push(
      `${total} readings in ${rounds} rounds; ${expected.length} changes, each seen by all ${WATCHERS} clients; ${waits.length} readings reached clients as an event`,
      `publish → first WebSocket client: p50 ${quantile(waits, 0.5)} ms, p99 ${quantile(waits, 0.99)} ms, max ${waits.at(-1)} ms`,
      `published while replica 1 was down: ${killWindow.length} seen, p50 ${quantile(killWindow, 0.5)} ms, max ${killWindow.at(-1)} ms; ${held} waited over 1 s (a held reading older than its twin's value makes no event: see the database figure)`,
      `watcher reconnects: ${watchers.map((w) => w.reconnects).join(',')}`,
    );
    process.stdout.write(`\nreplicas.spec figures:\n  ${log.join('\n  ')}\n`);
  }, 600_000);
});
