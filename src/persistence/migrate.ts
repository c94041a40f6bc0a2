import { DataSource } from 'typeorm';
import { loadConfig } from '../config/config.schema.js';
import { dataSourceOptions } from './data-source.options.js';
import { DatabaseLocation } from './database-location.js';

/** `npm run migration:run` / `migration:revert`: works with DATABASE_URL or the embedded database. */
async function main(): Promise<void> {
  const location = await DatabaseLocation.resolve(loadConfig());
  const ds = new DataSource(dataSourceOptions(location.url));
  try {
    await ds.initialize();
    if (process.argv.includes('--revert')) {
      await ds.undoLastMigration({ transaction: 'each' });
      console.log('reverted the last migration');
    } else {
      const done = await ds.runMigrations({ transaction: 'each' });
      console.log(done.length ? `ran ${done.map((m) => m.name).join(', ')}` : 'schema is up to date');
    }
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await location.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
