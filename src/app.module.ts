import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AuthModule } from './auth/auth.module.js';
import { DittoErrorFilter } from './common/ditto-error.filter.js';
import { DittoModule } from './ditto/ditto.module.js';
import { ConfigModule } from './config/config.module.js';
import type { ConfigService } from './config/config.service.js';
import { HealthModule } from './health/health.module.js';
import { IngestModule } from './ingest/ingest.module.js';
import { PersistenceModule } from './persistence/persistence.module.js';
import { PoliciesModule } from './policies/policies.module.js';
import { RealtimeModule } from './realtime/realtime.module.js';
import { TelemetryModule } from './telemetry/telemetry.module.js';
import { TwinsModule } from './twins/twins.module.js';

@Module({})
export class AppModule {
  static withConfig(config: ConfigService): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        PersistenceModule,
        AuthModule,
        TelemetryModule,
        TwinsModule,
        PoliciesModule,
        HealthModule,
        RealtimeModule,
        IngestModule,
        DittoModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: DittoErrorFilter }],
    };
  }
}
