import type { AppConfig } from '../config/config.schema.js';

/** Where Ditto is and how to sign in, in the shape the official client's builders take. */
export interface DittoSettings {
  tls: boolean;
  /** host:port, no scheme (the client's withDomain). */
  domain: string;
  /** A path prefix in front of /api and /ws (Ditto behind a reverse proxy path), '' for none. */
  prefix: string;
  auth: { kind: 'basic'; username: string; password: string } | { kind: 'bearer'; token: string } | null;
  namespaces: string;
  concurrency: number;
  timeoutMs: number;
  retryMaxMs: number;
}

export function dittoSettings(config: AppConfig): DittoSettings | null {
  if (!config.DITTO_URL) return null;
  const url = new URL(config.DITTO_URL);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return {
    tls: url.protocol === 'https:',
    domain: `${url.hostname}:${port}`,
    prefix: url.pathname.replace(/\/+$/, ''),
    auth: config.DITTO_TOKEN
      ? { kind: 'bearer', token: config.DITTO_TOKEN }
      : config.DITTO_USERNAME && config.DITTO_PASSWORD
        ? { kind: 'basic', username: config.DITTO_USERNAME, password: config.DITTO_PASSWORD }
        : null,
    namespaces: config.DITTO_NAMESPACES,
    concurrency: config.DITTO_SYNC_CONCURRENCY,
    timeoutMs: config.DITTO_REQUEST_TIMEOUT_MS,
    retryMaxMs: config.DITTO_RETRY_MAX_MS,
  };
}
