import { Module } from '@nestjs/common';
import { DeviceBrokerAccess } from '../devices/broker-access.js';
import { ConfigService } from '../config/config.service.js';
import { DevicesModule } from '../devices/devices.module.js';
import { JournalModule } from '../journal/journal.module.js';
import { TelemetryModule } from '../telemetry/telemetry.module.js';
import { TwinsModule } from '../twins/twins.module.js';
import { PoliciesModule } from '../policies/policies.module.js';
import { BROKER_ACCESS, BROKER_INTAKE } from './broker-hooks.js';
import { BrokerIntakeHooks } from './broker-intake.js';
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
import { PresenceMemory, presenceMemoryFor } from './presence.js';
import { PresenceSweeper } from './presence.sweeper.js';

/**
 * Devices over MQTT: the broker (external or embedded), the device contract, batched writes of
 * history and twins with acknowledgement after commit, dead letters, presence and desired state.
 */
@Module({
  imports: [TwinsModule, TelemetryModule, JournalModule, PoliciesModule, DevicesModule],
  controllers: [IngestController],
  providers: [
    MqttBroker,
    MqttConnection,
    IngestStats,
    IngestRepository,
    { provide: PresenceMemory, useFactory: presenceMemoryFor, inject: [ConfigService] },
    IngestWriter,
    IngestBatcher,
    PresenceSweeper,
    DesiredPublisher,
    DeadLettersService,
    DevicePolicy,
    // Device messages taken inside the embedded broker's PUBLISH pipeline, acked after commit.
    BrokerIntakeHooks,
    { provide: BROKER_INTAKE, useFactory: (i: BrokerIntakeHooks) => i.hooks, inject: [BrokerIntakeHooks] },
    // Device identity on the embedded broker, its refusals counted in the ingest's stats.
    {
      provide: BROKER_ACCESS,
      useFactory: (access: DeviceBrokerAccess, stats: IngestStats) => access.hooks(stats),
      inject: [DeviceBrokerAccess, IngestStats],
    },
  ],
  exports: [MqttBroker, MqttConnection, IngestStats],
})
export class IngestModule {}
