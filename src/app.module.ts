import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AuthModule } from './auth/auth.module.js';
import { DittoErrorFilter } from './common/ditto-error.filter.js';
import { DeviceProvisioningModule, DevicesModule } from './devices/devices.module.js';
import { DittoModule } from './ditto/ditto.module.js';
import { ForecastingModule } from './forecasting/forecasting.module.js';
import { ConfigModule } from './config/config.module.js';
import type { ConfigService } from './config/config.service.js';
import { HealthModule } from './health/health.module.js';
import { IngestModule } from './ingest/ingest.module.js';
import { MessagesModule } from './messages/messages.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
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
        // Before TwinsModule, as TelemetryModule: its credentials routes precede the things wildcard.
        DevicesModule,
        // Right before TwinsModule, after DevicesModule: Nest registers a module's routes before those of
        // the modules it imports (TwinsModule), so its …/properties/{path}/forecast routes precede the wildcard.
        ForecastingModule,
        TwinsModule,
        DeviceProvisioningModule,
        PoliciesModule,
        HealthModule,
        RealtimeModule,
        IngestModule,
        MessagesModule,
        DittoModule,
        MetricsModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: DittoErrorFilter }],
    };
  }
}
