import { Module } from '@nestjs/common';
import { PoliciesModule } from '../policies/policies.module.js';
import { TwinsModule } from '../twins/twins.module.js';
import { DeviceBrokerAccess } from './broker-access.js';
import { DeviceCredentialsRepository } from './device-credentials.repository.js';
import { DeviceCredentialsService } from './device-credentials.service.js';
import { DeviceProvisioning } from './device-provisioning.service.js';
import { CredentialsController } from './http/credentials.controller.js';
import { ProvisionController } from './http/provision.controller.js';
import { PlatformMqttLogin } from './platform-login.js';

/**
 * Device identity: credentials (REST), the embedded broker's access rules and the platform's own
 * MQTT login. Import it before TwinsModule (see CredentialsController): it imports only
 * PoliciesModule, so Nest registers its routes before the things wildcard.
 */
@Module({
  imports: [PoliciesModule],
  controllers: [CredentialsController],
  providers: [DeviceCredentialsRepository, DeviceCredentialsService, DeviceBrokerAccess, PlatformMqttLogin],
  exports: [DeviceCredentialsService, DeviceBrokerAccess, PlatformMqttLogin],
})
export class DevicesModule {}

/** Bulk provisioning, which creates things: apart, as it needs the twins (DevicesModule must not). */
@Module({
  imports: [DevicesModule, TwinsModule, PoliciesModule],
  controllers: [ProvisionController],
  providers: [DeviceProvisioning],
})
export class DeviceProvisioningModule {}
