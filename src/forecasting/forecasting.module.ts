import { Module } from '@nestjs/common';
import { JournalModule } from '../journal/journal.module.js';
import { PoliciesModule } from '../policies/policies.module.js';
import { TelemetryModule } from '../telemetry/telemetry.module.js';
import { TwinsModule } from '../twins/twins.module.js';
import { ForecastData } from './forecast-data.service.js';
import { ForecastEvents } from './forecast-events.service.js';
import { ForecastMetrics } from './forecast-metrics.js';
import { ForecastMonitor } from './forecast-monitor.service.js';
import { ForecastPublisher } from './forecast-publisher.service.js';
import { ForecastWorkers } from './forecast-workers.js';
import { ForecastingRepository } from './forecasting.repository.js';
import { ForecastingScheduler } from './forecasting.scheduler.js';
import { ForecastingService } from './forecasting.service.js';
import { ForecastAccess } from './http/forecast-access.js';
import { ForecastingController } from './http/forecasting.controller.js';
import { ThingForecastController } from './http/thing-forecast.controller.js';

/**
 * Short-term forecasts of thing properties with an MLOps loop (README, "Forecasting"). Import it
 * before TwinsModule: its `…/properties/{path}/forecast` routes must precede the things wildcard.
 */
@Module({
  imports: [TelemetryModule, TwinsModule, JournalModule, PoliciesModule],
  controllers: [ForecastingController, ThingForecastController],
  providers: [
    ForecastingRepository,
    ForecastData,
    ForecastWorkers,
    ForecastPublisher,
    ForecastingService,
    ForecastMonitor,
    ForecastEvents,
    ForecastAccess,
    ForecastingScheduler,
    ForecastMetrics,
  ],
  exports: [ForecastingService],
})
export class ForecastingModule {}
