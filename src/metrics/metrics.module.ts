import { Module } from '@nestjs/common';
import { IngestModule } from '../ingest/ingest.module.js';
import { JournalModule } from '../journal/journal.module.js';
import { RealtimeModule } from '../realtime/realtime.module.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsRegistryModule } from './metrics-registry.js';
import { PlatformMetrics } from './platform-metrics.js';
import { ScrapeSnapshots } from './scrape-snapshot.js';

/**
 * Prometheus metrics at GET /metrics: process, HTTP, ingest, journal feed, realtime connections,
 * Ditto sync and the PostgreSQL pools. The HTTP middleware is installed by bootstrap.ts. Other
 * features register their own metrics in the global MetricsRegistry (metrics-registry.ts).
 */
@Module({
  imports: [MetricsRegistryModule, IngestModule, JournalModule, RealtimeModule],
  controllers: [MetricsController],
  providers: [PlatformMetrics, ScrapeSnapshots],
  exports: [PlatformMetrics, MetricsRegistryModule],
})
export class MetricsModule {}
