import { Logger } from '@nestjs/common';
import type { AppConfig } from '../config/config.schema.js';
import { cacheFlags, startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres.js';

/** Where the database is: DATABASE_URL, or an embedded PostgreSQL this process owns and stops. */
export class DatabaseLocation {
  private constructor(
    readonly url: string,
    private readonly embedded?: EmbeddedPostgresHandle,
  ) {}

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  static async resolve(config: AppConfig): Promise<DatabaseLocation> {
    if (config.DATABASE_URL) return new DatabaseLocation(config.DATABASE_URL);
    const logger = new Logger('EmbeddedPostgres');
    logger.log(`DATABASE_URL is not set: starting embedded PostgreSQL in ${config.EMBEDDED_PG_DIR}`);
    const handle = await startEmbeddedPostgres({
      dataDir: config.EMBEDDED_PG_DIR,
      port: config.EMBEDDED_PG_PORT,
      log: (line) => logger.debug(line),
      postgresFlags: cacheFlags(config.EMBEDDED_PG_SHARED_BUFFERS_MB),
    });
    logger.log(
      `embedded PostgreSQL listening on ${new URL(handle.url).port} (shared_buffers ${config.EMBEDDED_PG_SHARED_BUFFERS_MB} MB)`,
    );
    return new DatabaseLocation(handle.url, handle);
  }

  async stop(): Promise<void> {
    if (!this.embedded) return;
    await this.embedded.stop();
    new Logger('EmbeddedPostgres').log('embedded PostgreSQL stopped');
  }
}
