import type { DataSourceOptions } from 'typeorm';
import { InitialSchema1764140000000 } from '../../migrations/1764140000000-InitialSchema.js';
import { ThingMetadata1764140100000 } from '../../migrations/1764140100000-ThingMetadata.js';
import { Telemetry1764150000000 } from '../../migrations/1764150000000-Telemetry.js';
import { Ingest1764160000000 } from '../../migrations/1764160000000-Ingest.js';
import { DittoSync1764170000000 } from '../../migrations/1764170000000-DittoSync.js';
import { TelemetrySeries1764180000000 } from '../../migrations/1764180000000-TelemetrySeries.js';
import { AuthGeneratedUser1764190000000 } from '../../migrations/1764190000000-AuthGeneratedUser.js';
import { Policies1764195000000 } from '../../migrations/1764195000000-Policies.js';
import { JournalPolicy1764196000000 } from '../../migrations/1764196000000-JournalPolicy.js';

/**
 * The one options object for the app, the migrate script and the TypeORM CLI.
 * Migrations are listed as classes rather than globbed, so the same list works under
 * ts-jest and from compiled JavaScript.
 */
export function dataSourceOptions(url: string, poolSize = 10): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'typeorm_migrations',
    migrations: [
      InitialSchema1764140000000,
      ThingMetadata1764140100000,
      Telemetry1764150000000,
      Ingest1764160000000,
      DittoSync1764170000000,
      TelemetrySeries1764180000000,
      AuthGeneratedUser1764190000000,
      Policies1764195000000,
      JournalPolicy1764196000000,
    ],
    entities: [],
    extra: { max: poolSize, application_name: 'twin-platform' },
    logging: ['error'],
  };
}
