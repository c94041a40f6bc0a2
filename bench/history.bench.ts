import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createApp } from '../src/bootstrap.js';
import { loadConfig } from '../src/config/config.schema.js';
import { ConfigService } from '../src/config/config.service.js';
import { TwinsService } from '../src/twins/twins.service.js';
import type { TwinCommand } from '../src/twins/twin.types.js';
import { benchAuthEnv, benchAuthHeaders } from './auth.js';
import { benchDatabase } from './support.js';

/**
 * Historical reads of one thing with 100,000 revisions: `GET /api/2/things/{id}` with
 * `at-historical-revision` over HTTP (authentication and policy enforcement included), against a
 * bare pg baseline that only reads the snapshot row such a read starts from. The first read of an
 * old revision replays from the start and writes the snapshots; the figures are for the reads after.
 *
 *   npm run bench:history            (REVISIONS=100000 READS=200 by default)
 */
const REVISIONS = Number(process.env.REVISIONS ?? 100_000);
const READS = Number(process.env.READS ?? 200);
const BATCH = 2000;
const ID = 'org.bench:history-1';

async function main(): Promise<void> {
  const db = await benchDatabase();
  const config = new ConfigService(
    loadConfig({
      ...benchAuthEnv(),
      DATABASE_URL: db.url,
      LOG_LEVEL: 'error',
      RATE_LIMIT_PER_SECOND: '0',
      PORT: '0',
    }),
  );
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const headers = { ...benchAuthHeaders(), 'content-type': 'application/json' };
  try {
    // Created by the bench user, so its policy lets them read it.
    const created = await fetch(`${base}/api/2/things/${ID}`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ features: { meter: { properties: { value: 0, seq: 0 } } } }),
    });
    if (created.status !== 201) throw new Error(`create answered ${created.status}`);
    const twins = app.get(TwinsService);
    const t0 = performance.now();
    for (let done = 1; done < REVISIONS; done += BATCH) {
      const cmds: TwinCommand[] = [];
      for (let i = done; i < Math.min(done + BATCH, REVISIONS); i++) {
        cmds.push({
          type: 'merge',
          thingId: ID,
          path: ['features', 'meter', 'properties'],
          value: { value: Math.sin(i), seq: i },
          origin: 'system',
        });
      }
      await twins.applyMany(cmds);
    }
    console.log(`wrote ${REVISIONS} revisions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const read = async (revision: number): Promise<number> => {
      const start = performance.now();
      const res = await fetch(`${base}/api/2/things/${ID}`, {
        headers: { ...headers, 'at-historical-revision': String(revision) },
      });
      const body = (await res.json()) as { features: { meter: { properties: { seq: number } } } };
      const ms = performance.now() - start;
      if (res.status !== 200 || body.features.meter.properties.seq !== revision - 1) {
        throw new Error(`revision ${revision} answered ${res.status} ${JSON.stringify(body)}`);
      }
      return ms;
    };
    const first = await read(REVISIONS - 1);
    console.log(`first read (replays ${REVISIONS - 1} rows, writes the snapshots): ${first.toFixed(0)} ms`);

    const revisions = Array.from({ length: READS }, () => 1 + Math.floor(Math.random() * (REVISIONS - 1)));
    const latencies: number[] = [];
    for (const r of revisions) latencies.push(await read(r));

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const baseline: number[] = [];
    for (const r of revisions) {
      const start = performance.now();
      await client.query(
        `SELECT doc FROM thing_snapshots WHERE thing_id = $1 AND revision <= $2 ORDER BY revision DESC LIMIT 1`,
        [ID, r],
      );
      baseline.push(performance.now() - start);
    }
    await client.end();
    report('historical GET over HTTP', latencies);
    report('bare pg: the snapshot row', baseline);
  } finally {
    await app.close();
    await db.close();
  }
}

function report(name: string, ms: number[]): void {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1);
  console.log(
    `${name}: p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (${s.length} reads)`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
