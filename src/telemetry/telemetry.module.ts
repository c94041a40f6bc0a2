import { Module } from '@nestjs/common';
import { PoliciesModule } from '../policies/policies.module.js';
import { HistoryController } from './http/history.controller.js';
import { TelemetryPartitionsRepository } from './telemetry-partitions.repository.js';
import { TelemetryPartitionsService } from './telemetry-partitions.service.js';
import { TelemetryRepository } from './telemetry.repository.js';
import { TelemetryService } from './telemetry.service.js';

/**
 * Device readings in a daily-partitioned table, their partition upkeep and the history API.
 * Import it before TwinsModule (and before any module that imports TwinsModule): Nest
 * registers routes module by module, and the history route must precede the things wildcard.
 */
@Module({
  imports: [PoliciesModule],
  controllers: [HistoryController],
  providers: [
    TelemetryRepository,
    TelemetryService,
    TelemetryPartitionsRepository,
    TelemetryPartitionsService,
  ],
  exports: [TelemetryService, TelemetryPartitionsService],
})
export class TelemetryModule {}
