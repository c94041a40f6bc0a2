import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { primarySubject } from '../auth/operator.guard.js';
import { ConfigService } from '../config/config.service.js';
import { PoliciesService } from '../policies/policies.service.js';

/** The policy things created by devices link (DEVICE_POLICY_ID, default `<DEFAULT_NAMESPACE>:devices`). */
export function devicePolicyId(config: ConfigService): string {
  return config.get('DEVICE_POLICY_ID') ?? `${config.get('DEFAULT_NAMESPACE')}:devices`;
}

/**
 * Who administers the device policy when it is first created: DEVICE_POLICY_SUBJECTS, else the
 * first configured basic user, else the generated user `ditto` (see README ## Authentication).
 */
export function devicePolicySubjects(config: ConfigService): string[] {
  const listed = config.get('DEVICE_POLICY_SUBJECTS');
  return listed ? listed.split(',') : [primarySubject(config)];
}

/**
 * A device that creates its twin (AUTO_CREATE_THINGS) does so through the platform, and such a
 * twin must still be governed: it links one shared policy, like a ThingsBoard tenant's devices.
 * That policy is created at start when missing; afterwards it is the operators' to change. It
 * names no device: a device writes its own features through its own topic (see deviceAuth in
 * ditto-command.ts), and anything beyond them needs an entry for `device:<thingId>`.
 */
@Injectable()
export class DevicePolicy implements OnApplicationBootstrap {
  private readonly logger = new Logger('DevicePolicy');

  constructor(
    @Inject(ConfigService) private readonly config: ConfigService,
    @Inject(PoliciesService) private readonly policies: PoliciesService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.get('AUTO_CREATE_THINGS')) return;
    const policyId = devicePolicyId(this.config);
    const subjects = devicePolicySubjects(this.config);
    if (await this.policies.ensureExists(policyId, subjects)) {
      this.logger.log(`created the device policy ${policyId} for ${subjects.join(', ')}`);
    }
  }
}
