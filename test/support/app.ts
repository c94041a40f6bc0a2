import type { INestApplication } from '@nestjs/common';
import pg from 'pg';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/config.schema.js';
import { ConfigService } from '../../src/config/config.service.js';
import { createTestDatabase } from './database.js';

export interface TestApp {
  app: INestApplication;
  /** http://127.0.0.1:<port> of the listening app. */
  baseUrl: string;
  /** host:port, as the Ditto client's withDomain wants it. */
  domain: string;
  /** A direct connection to the app's database, for asserting what was stored. */
  db: pg.Client;
  close(): Promise<void>;
}

/** Boots the real application on a fresh database (real migrations) and a free port. */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = new ConfigService(
    loadConfig({ LOG_LEVEL: 'error', ...env, DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1' }),
  );
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  return {
    app,
    baseUrl: `http://127.0.0.1:${address.port}`,
    domain: `127.0.0.1:${address.port}`,
    db,
    close: async () => {
      await db.end();
      await app.close();
      await database.drop();
    },
  };
}
