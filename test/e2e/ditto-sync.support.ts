import pg from 'pg';
import { startTestApp, type TestApp } from '../support/app.js';
import { authHeaders } from '../support/auth.js';
import { SYNC_USER, TcpProxy, Upstream } from '../support/ditto-upstream.js';
import { waitFor } from '../support/mqtt.js';

export type Json = Record<string, unknown>;

/** A platform syncing (through a cuttable TCP proxy) with a second platform standing in for Ditto. */
export interface SyncPair {
  local: TestApp;
  upstream: Upstream;
  proxy: TcpProxy;
  close(): Promise<void>;
}

export async function startSyncPair(
  namespace: string,
  upstreamEnv: Record<string, string> = {},
): Promise<SyncPair> {
  const upstream = await Upstream.start(upstreamEnv);
  const proxy = await upstream.openProxy();
  const local = await startTestApp({
    ...SYNC_USER,
    DITTO_URL: proxy.url,
    DITTO_NAMESPACES: namespace,
    DITTO_RETRY_MAX_MS: '500',
    DITTO_REQUEST_TIMEOUT_MS: '5000',
  });
  return {
    local,
    upstream,
    proxy,
    close: async () => {
      await local.close();
      await proxy.cut();
      await upstream.close();
    },
  };
}

/** A request to either side, signed in as the default test user (the sync's user upstream). */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...authHeaders(), ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

export async function thing(base: string, id: string): Promise<Json | null> {
  const res = await call(
    base,
    'GET',
    `/api/2/things/${id}?fields=thingId,policyId,attributes,features,_revision`,
  );
  return res.status === 200 ? (res.body as Json) : null;
}

/** Every thing of the namespace with its content and revision, keyed by id. */
export async function allThings(base: string, namespace: string): Promise<Map<string, Json>> {
  const out = new Map<string, Json>();
  let cursor: string | undefined;
  do {
    const option = `size(200),sort(+thingId)${cursor ? `,cursor(${cursor})` : ''}`;
    const res = await call(
      base,
      'GET',
      `/api/2/search/things?namespaces=${namespace}&option=${encodeURIComponent(option)}&fields=thingId,policyId,attributes,features,_revision`,
    );
    const page = res.body as { items: Json[]; cursor?: string };
    for (const item of page.items) out.set(String(item.thingId), item);
    cursor = page.cursor;
  } while (cursor);
  return out;
}

export async function syncStatus(local: TestApp): Promise<Json> {
  return (await call(local.baseUrl, 'GET', '/api/2/sync/ditto')).body as Json;
}

/** Waits until the sync has nothing left to deliver (and is receiving Ditto's events). */
export async function settled(local: TestApp, timeoutMs = 60_000): Promise<Json> {
  return waitFor(
    'the sync to drain its backlog',
    async () => {
      const s = await syncStatus(local);
      const backlog = s.backlog as { changes: number };
      return s.connected === true && backlog.changes === 0 ? s : undefined;
    },
    timeoutMs,
  );
}

/** The journal of one thing on one side, as (revision, action, path, value) rows. */
export async function journalOf(
  db: pg.Client,
  thingId: string,
): Promise<{ revision: number; action: string; path: string; value: unknown }[]> {
  const { rows } = await db.query<{ revision: string; action: string; path: string; value: unknown }>(
    `SELECT revision, action, path, value FROM journal WHERE entity = 'thing' AND thing_id = $1 ORDER BY revision`,
    [thingId],
  );
  return rows.map((r) => ({ revision: Number(r.revision), action: r.action, path: r.path, value: r.value }));
}

/** Runs `fn` over items with at most `n` at a time. */
export async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}
