import type { Logger } from '@nestjs/common';
import pg from 'pg';
import { JOURNAL_CHANNEL } from './journal.repository.js';

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;
/** Shows in pg_stat_activity, so operators (and tests) can find the listening connection. */
export const FEED_APPLICATION_NAME = 'twin-journal-feed';

export interface ListenerEvents {
  /** A commit's notice; `seq` is its highest seq (undefined when the payload is empty). */
  notice(seq: string | undefined): void;
  /** Listening again after a loss: whatever was committed meanwhile was not announced. */
  reconnected(): void;
}

/**
 * The journal feed's own PostgreSQL connection, LISTENing on the journal's channel: every append
 * NOTIFYs it at commit. A lost connection is replaced with back-off for as long as it takes.
 */
export class JournalListener {
  private client?: pg.Client;
  private stopped = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly events: ListenerEvents,
  ) {}

  /** True while the connection is up. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Resolves once listening; rejects if the first connection fails. */
  start(): Promise<void> {
    return this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: FEED_APPLICATION_NAME });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => {
      if (msg.channel === JOURNAL_CHANNEL) this.events.notice(msg.payload || undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${JOURNAL_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end();
      return;
    }
    this.client = client;
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    this.logger.warn(`journal LISTEN connection lost${err ? `: ${err.message}` : ''}; reconnecting`);
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.connect().then(
        () => {
          this.retryMs = RETRY_MIN_MS;
          this.events.reconnected();
        },
        (err: unknown) => {
          if (this.stopped) return;
          this.logger.warn(
            `journal LISTEN reconnect failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
          );
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.retryTimer.unref();
  }
}
