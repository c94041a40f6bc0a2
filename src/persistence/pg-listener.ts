import type { Logger } from '@nestjs/common';
import pg from 'pg';

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

export interface ListenerOptions {
  url: string;
  channel: string;
  /** Shows in pg_stat_activity, so operators (and tests) can find the listening connection. */
  applicationName: string;
  /** Names the listener in its log lines ("journal", "policy"). */
  label: string;
  logger: Logger;
}

export interface ListenerEvents {
  /** A notification on the channel, with its payload ('' when it has none). */
  notice(payload: string): void;
  /** Listening: the first time and after every loss (notifications sent meanwhile were missed). */
  connected?(): void;
  /** The connection is gone; a new one is on its way. */
  lost?(): void;
}

/**
 * One dedicated PostgreSQL connection LISTENing on a channel, replaced with back-off for as long
 * as it takes when lost. What a missed notification means is the owner's business (see events).
 */
export class PgListener {
  private client?: pg.Client;
  private stopped = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly options: ListenerOptions,
    private readonly events: ListenerEvents,
  ) {}

  /** True while the connection is up. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Resolves once listening; rejects if this first connection fails (nothing is retried then). */
  start(): Promise<void> {
    return this.connect();
  }

  /** Starts listening, or, if the first connection fails, keeps trying in the background. */
  async startOrRetry(): Promise<void> {
    await this.connect().catch((err: unknown) => {
      this.options.logger.warn(`${this.options.label} LISTEN failed: ${message(err)}; retrying`);
      this.scheduleReconnect();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const { url, channel, applicationName } = this.options;
    const client = new pg.Client({ connectionString: url, application_name: applicationName });
    client.on('error', (err) => this.lose(client, err));
    client.on('end', () => this.lose(client));
    client.on('notification', (msg) => {
      if (msg.channel === channel) this.events.notice(msg.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end();
      return;
    }
    this.client = client;
    this.events.connected?.();
  }

  private lose(client: pg.Client, err?: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    this.events.lost?.();
    this.options.logger.warn(
      `${this.options.label} LISTEN connection lost${err ? `: ${err.message}` : ''}; reconnecting`,
    );
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.connect().then(
        () => (this.retryMs = RETRY_MIN_MS),
        (err: unknown) => {
          if (this.stopped) return;
          this.options.logger.warn(`${this.options.label} LISTEN reconnect failed: ${message(err)}`);
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.retryTimer.unref();
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
