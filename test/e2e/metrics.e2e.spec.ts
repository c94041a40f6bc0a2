import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { Counter } from 'prom-client';
import request from 'supertest';
import { WebSocket } from 'ws';
import { MetricsRegistry } from '../../src/metrics/metrics-registry.js';
import { SNAPSHOT_TIMEOUT_MS } from '../../src/metrics/scrape-snapshot.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { authHeaders } from '../support/auth.js';
import { parseMetrics, sample, type Sample } from '../support/metrics.js';
import { MqttBroker } from '../../src/ingest/mqtt-broker.js';
import { MqttConnection } from '../../src/ingest/mqtt-connection.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import { publish, uniqueNamespace, waitFor, withTimeout } from '../support/mqtt.js';
import { SseClient } from './realtime.support.js';

let t: TestApp;
let device: MqttClient;
const ns = uniqueNamespace('metrics');

beforeAll(async () => {
  // The embedded broker on a port of its own: no other suite's traffic in the ingest counters.
  t = await startTestApp({ MQTT_PORT: '0', INGEST_BATCH_MS: '5' });
  await withTimeout(t.app.get(MqttConnection).ready, 15_000, 'the ingest did not subscribe');
  // The embedded broker lets in provisioned devices only, each on its own topics.
  const meter = `${ns}:meter-1`;
  const secrets = await provisionDevices(t.baseUrl, [meter]);
  device = await connectAs(t.app.get(MqttBroker).url, meter, secrets.get(meter) ?? '');
});
afterAll(async () => {
  await device?.endAsync();
  await t?.close();
});

async function scrape(app: TestApp = t, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await request(app.baseUrl).get('/metrics').set(headers).expect(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.text);
}

const THING_ROUTE = { method: 'GET', route: '/api/2/things/:thingId' };

describe('GET /metrics', () => {
  it('is open without METRICS_TOKEN and has the process metrics', async () => {
    const samples = await scrape();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect([name, sample(samples, name)]).toEqual([name, expect.any(Number)]);
    }
  });

  it('counts and times HTTP requests by route template, never by the raw URL', async () => {
    const id = `${ns}:lamp-1`;
    await request(t.baseUrl).put(`/api/2/things/${id}`).set(authHeaders()).send({}).expect(201);
    const before = await scrape();
    const ok = { ...THING_ROUTE, status_code: '200' };
    const missing = { ...THING_ROUTE, status_code: '404' };
    for (let i = 0; i < 3; i++)
      await request(t.baseUrl).get(`/api/2/things/${id}`).set(authHeaders()).expect(200);
    await request(t.baseUrl).get(`/api/2/things/${ns}:nothing`).set(authHeaders()).expect(404);
    await request(t.baseUrl).get(`/api/2/things/${id}/attributes/x`).set(authHeaders()).expect(404);
    await request(t.baseUrl).get('/api/2/things').expect(401);
    const after = await scrape();

    const moved = (name: string, labels: Record<string, string>) =>
      (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    expect(moved('http_requests_total', ok)).toBe(3);
    expect(moved('http_requests_total', missing)).toBe(1);
    expect(moved('http_request_duration_seconds_count', ok)).toBe(3);
    expect(moved('http_request_duration_seconds_bucket', { ...ok, le: '+Inf' })).toBe(3);
    expect(sample(after, 'http_request_duration_seconds_sum', ok)).toBeGreaterThan(0);
    expect(
      moved('http_requests_total', {
        method: 'GET',
        route: '/api/2/things/:thingId/*path',
        status_code: '404',
      }),
    ).toBe(1);
    expect(
      moved('http_requests_total', { method: 'GET', route: 'unauthenticated', status_code: '401' }),
    ).toBe(1);
    expect(
      moved('http_requests_total', { method: 'PUT', route: '/api/2/things/:thingId', status_code: '201' }),
    ).toBe(0);
    // No label anywhere holds an id from a URL.
    const routes = new Set(after.filter((s) => s.name === 'http_requests_total').map((s) => s.labels.route));
    expect([...routes].filter((r) => r.includes(ns))).toEqual([]);
    expect(routes).toContain('/metrics');
  });

  it('reads the ingest counters, dead letters by reason included', async () => {
    const before = await scrape();
    await publish(device, `things/${ns}:meter-1/telemetry`, { features: { energy: { power: 5 } } });
    await publish(device, `things/${ns}:meter-1/telemetry`, '{not json');
    await publish(device, `things/${ns}:meter-1/telemetry`, { features: { energy: { power: 6 } } });
    const after = await waitFor('the dead letter to be counted', async () => {
      const s = await scrape();
      return (sample(s, 'twin_ingest_dead_letters_total', { reason: 'json_invalid' }) ?? 0) >
        (sample(before, 'twin_ingest_dead_letters_total', { reason: 'json_invalid' }) ?? 0) &&
        (sample(s, 'twin_ingest_batches_total') ?? 0) > (sample(before, 'twin_ingest_batches_total') ?? 0)
        ? s
        : undefined;
    });
    const moved = (name: string, labels: Record<string, string> = {}) =>
      (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    // The app's own broker: exactly what this test sent.
    expect(moved('twin_ingest_messages_received_total')).toBe(3);
    expect(moved('twin_ingest_dead_letters_total', { reason: 'json_invalid' })).toBe(1);
    expect(moved('twin_ingest_readings_committed_total')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'twin_ingest_broker_connected')).toBe(1);
    // Every message of a committed batch: its batch size, commit time and its wait until the commit.
    expect(moved('twin_ingest_batch_messages_sum')).toBe(3);
    expect(moved('twin_ingest_batch_commit_seconds_count')).toBe(moved('twin_ingest_batch_messages_count'));
    expect(moved('twin_ingest_message_commit_latency_seconds_count')).toBe(3);
    expect(moved('twin_ingest_message_commit_latency_seconds_bucket', { le: '+Inf' })).toBe(3);
    expect(
      after.filter((s) => s.name === 'twin_ingest_dead_letters_total').map((s) => s.labels.reason),
    ).toEqual(expect.arrayContaining(['topic_unknown', 'payload_too_large', 'storage_refused']));
  });

  it("reports the journal feed's head, dispatched seq and lag", async () => {
    await request(t.baseUrl).put(`/api/2/things/${ns}:lag-1`).set(authHeaders()).send({}).expect(201);
    // The write's seq, read before scraping: earlier tests' devices may still commit later ones.
    const { rows } = await t.db.query<{ seq: string }>('SELECT max(seq)::text AS seq FROM journal');
    const written = Number(rows[0].seq);
    const samples = await waitFor('the feed to dispatch the write', async () => {
      const s = await scrape();
      const caughtUp = (sample(s, 'twin_journal_dispatched_seq') ?? 0) >= written;
      return caughtUp && sample(s, 'twin_journal_feed_lag') === 0 ? s : undefined;
    });
    expect(sample(samples, 'twin_journal_head_seq')).toBeGreaterThanOrEqual(written);
    expect(sample(samples, 'twin_journal_dispatched_seq')).toBeGreaterThanOrEqual(written);
    expect(sample(samples, 'twin_journal_feed_listening')).toBe(1);
  });

  it('counts open WebSocket and SSE connections', async () => {
    const base = await scrape();
    const ws = new WebSocket(`${t.baseUrl.replace('http', 'ws')}/ws/2`, { headers: authHeaders() });
    await new Promise<void>((ok, fail) => {
      ws.once('open', () => ok());
      ws.once('error', fail);
    });
    const sse = await SseClient.open(`${t.baseUrl}/api/2/things`);
    try {
      const open = await waitFor('the connections to show', async () => {
        const s = await scrape();
        return sample(s, 'twin_sse_connections') === (sample(base, 'twin_sse_connections') ?? 0) + 1
          ? s
          : undefined;
      });
      expect(sample(open, 'twin_websocket_connections')).toBe(
        (sample(base, 'twin_websocket_connections') ?? 0) + 1,
      );
    } finally {
      sse.close();
      ws.close();
    }
    const closed = await waitFor('the connections to close', async () => {
      const s = await scrape();
      return sample(s, 'twin_sse_connections') === sample(base, 'twin_sse_connections') &&
        sample(s, 'twin_websocket_connections') === sample(base, 'twin_websocket_connections')
        ? s
        : undefined;
    });
    expect(
      closed.filter((s) => s.name === 'http_requests_total' && s.labels.route === 'sse').map((s) => s.value),
    ).toEqual([1]);
  });

  it('counts events delivered to WebSocket and SSE clients and how their connections ended', async () => {
    const before = await scrape();
    const ws = new WebSocket(`${t.baseUrl.replace('http', 'ws')}/ws/2`, { headers: authHeaders() });
    const texts: string[] = [];
    ws.on('message', (d) => texts.push((d as Buffer).toString()));
    await new Promise<void>((ok, fail) => {
      ws.once('open', () => ok());
      ws.once('error', fail);
    });
    ws.send(`START-SEND-EVENTS?namespaces=${ns}`);
    await waitFor('the subscription', () => texts.includes('START-SEND-EVENTS:ACK'));
    const sse = await SseClient.open(`${t.baseUrl}/api/2/things?namespaces=${ns}`);
    await request(t.baseUrl).put(`/api/2/things/${ns}:delivered`).set(authHeaders()).send({}).expect(201);
    await waitFor('the event on both', () => texts.length === 2 && sse.events.length === 1);
    sse.close();
    await new Promise<void>((ok) => {
      ws.once('close', () => ok());
      ws.close(1000, 'done');
    });
    const after = await waitFor('both closes to be counted', async () => {
      const s = await scrape();
      return sample(s, 'twin_sse_connections') === sample(before, 'twin_sse_connections') &&
        sample(s, 'twin_websocket_connections') === sample(before, 'twin_websocket_connections')
        ? s
        : undefined;
    });
    const moved = (name: string, labels: Record<string, string> = {}) =>
      (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    expect(moved('twin_websocket_events_delivered_total')).toBe(1);
    expect(moved('twin_sse_events_delivered_total')).toBe(1);
    expect(moved('twin_websocket_closes_total', { code: '1000' })).toBe(1);
    expect(moved('twin_sse_closes_total', { reason: 'closed' })).toBe(1);
    expect(moved('twin_sse_closes_total', { reason: 'overflow' })).toBe(0);
  });

  it("shows what another feature registers in the application's MetricsRegistry", async () => {
    const registry = t.app.get(MetricsRegistry);
    const runs = new Counter({
      name: 'twin_test_feature_runs_total',
      help: 'a feature of the test',
      registers: [registry],
    });
    runs.inc(2);
    expect(sample(await scrape(), 'twin_test_feature_runs_total')).toBe(2);
    registry.removeSingleMetric('twin_test_feature_runs_total');
  });

  it('reports both PostgreSQL pools and the Ditto sync (disabled here)', async () => {
    await request(t.baseUrl).get('/api/2/search/things').set(authHeaders()).expect(200);
    const samples = await scrape();
    expect(sample(samples, 'twin_db_pool_max_connections', { pool: 'main' })).toBe(10);
    expect(sample(samples, 'twin_db_pool_max_connections', { pool: 'query' })).toBe(4);
    expect(sample(samples, 'twin_db_pool_connections', { pool: 'main' })).toBeGreaterThanOrEqual(1);
    expect(sample(samples, 'twin_db_pool_connections', { pool: 'query' })).toBeGreaterThanOrEqual(1);
    // The scrape's own read of the journal head may be waiting for a connection just then.
    expect(sample(samples, 'twin_db_pool_waiting_clients', { pool: 'main' })).toBeGreaterThanOrEqual(0);
    expect(sample(samples, 'twin_db_pool_idle_connections', { pool: 'query' })).toBeGreaterThanOrEqual(0);
    for (const pool of ['main', 'query']) {
      const inUse = sample(samples, 'twin_db_pool_in_use_connections', { pool }) ?? -1;
      expect(inUse).toBeGreaterThanOrEqual(0);
      expect(inUse).toBeLessThanOrEqual(sample(samples, 'twin_db_pool_connections', { pool }) ?? 0);
    }
    expect(sample(samples, 'twin_ditto_sync_enabled')).toBe(0);
    expect(sample(samples, 'twin_ditto_sync_backlog_changes')).toBeUndefined();
    expect(sample(samples, 'twin_metrics_source_up', { source: 'journal' })).toBe(1);
  });

  it('answers in bounded time when the database does not, leaving its figures out', async () => {
    // A real stall: the journal locked by another session, so reading its head has to wait.
    await t.db.query('BEGIN');
    try {
      await t.db.query('LOCK TABLE journal IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const samples = await scrape();
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(SNAPSHOT_TIMEOUT_MS - 100);
      expect(took).toBeLessThan(SNAPSHOT_TIMEOUT_MS + 2000);
      expect(sample(samples, 'twin_metrics_source_up', { source: 'journal' })).toBe(0);
      expect(sample(samples, 'twin_journal_feed_lag')).toBeUndefined();
      expect(sample(samples, 'twin_websocket_connections')).toBe(0);
    } finally {
      await t.db.query('ROLLBACK');
    }
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  const token = 'metrics-token-0123456789';
  let p: TestApp;
  beforeAll(async () => {
    p = await startTestApp({ METRICS_TOKEN: token });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('wants the bearer token, not API credentials', async () => {
    const refused = await request(p.baseUrl).get('/metrics').expect(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(refused.text).not.toContain('http_requests_total');
    await request(p.baseUrl).get('/metrics').set('authorization', `Bearer ${token}x`).expect(401);
    await request(p.baseUrl).get('/metrics').set('authorization', 'Bearer short').expect(401);
    await request(p.baseUrl).get('/metrics').set(authHeaders()).expect(401);
    const samples = await scrape(p, { authorization: `Bearer ${token}` });
    expect(
      sample(samples, 'http_requests_total', { method: 'GET', route: '/metrics', status_code: '401' }),
    ).toBe(4);
  });
});
