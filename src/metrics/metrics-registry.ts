import { Global, Module } from '@nestjs/common';
import { Registry } from 'prom-client';

/**
 * The application's Prometheus registry, one per application (tests run several in one
 * process). GET /metrics renders everything registered here. A feature adds its own metrics by
 * injecting it, with no import of MetricsModule (a global provider, so no module cycle):
 *
 *   constructor(@Inject(MetricsRegistry) registry: MetricsRegistry) {
 *     this.runs = new Counter({ name: 'twin_forecast_training_runs_total', help: '…', registers: [registry] });
 *   }
 *
 * Names start with `twin_`; a value the feature already keeps is better read in a `collect()`
 * callback (see platform-metrics.ts) than copied on every event.
 */
export class MetricsRegistry extends Registry {}

@Global()
@Module({
  providers: [{ provide: MetricsRegistry, useFactory: () => new MetricsRegistry() }],
  exports: [MetricsRegistry],
})
export class MetricsRegistryModule {}
