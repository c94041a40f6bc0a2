import { Module } from '@nestjs/common';
import { JournalModule } from '../journal/journal.module.js';
import { TelemetryModule } from '../telemetry/telemetry.module.js';
import { TwinsModule } from '../twins/twins.module.js';
import { PoliciesModule } from '../policies/policies.module.js';
import { DeadLettersService } from './dead-letters.service.js';
import { DevicePolicy } from './device-policy.js';
import { DesiredPublisher } from './desired.publisher.js';
import { IngestStats } from './ingest-stats.js';
import { IngestBatcher } from './ingest.batcher.js';
import { IngestController } from './ingest.controller.js';
import { IngestRepository } from './ingest.repository.js';
import { IngestWriter } from './ingest.writer.js';
import { MqttBroker } from './mqtt-broker.js';
import { MqttConnection } from './mqtt-connection.js';
import { PresenceSweeper } from './presence.sweeper.js';

/**
 * Devices over MQTT: the broker (external or embedded), the device contract, batched writes of
 * history and twins with acknowledgement after commit, dead letters, presence and desired state.
 */
@Module({
  imports: [TwinsModule, TelemetryModule, JournalModule, PoliciesModule],
  controllers: [IngestController],
  providers: [
    MqttBroker,
    MqttConnection,
    IngestStats,
    IngestRepository,
    IngestWriter,
    IngestBatcher,
    PresenceSweeper,
    DesiredPublisher,
    DeadLettersService,
    DevicePolicy,
  ],
  exports: [MqttBroker, MqttConnection, IngestStats],
})
export class IngestModule {}
