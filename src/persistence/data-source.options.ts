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
import { DeviceCredentials1764200000000 } from '../../migrations/1764200000000-DeviceCredentials.js';
import { IngestBounds1764210000100 } from '../../migrations/1764210000100-IngestBounds.js';
import { ThingHistory1764230000000 } from '../../migrations/1764230000000-ThingHistory.js';
import { Forecasting1764241300000 } from '../../migrations/1764241300000-Forecasting.js';
import { JournalLeafTimes1764250000000 } from '../../migrations/1764250000000-JournalLeafTimes.js';

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
      DeviceCredentials1764200000000,
      IngestBounds1764210000100,
      ThingHistory1764230000000,
      Forecasting1764241300000,
      JournalLeafTimes1764250000000,
    ],
    entities: [],
    extra: { max: poolSize, application_name: 'twin-platform' },
    logging: ['error'],
  };
}
