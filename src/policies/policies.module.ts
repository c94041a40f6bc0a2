import { Module } from '@nestjs/common';
import { JournalModule } from '../journal/journal.module.js';
import { CheckPermissions } from './check-permissions.service.js';
import { PoliciesController } from './http/policies.controller.js';
import { PoliciesRepository } from './policies.repository.js';
import { PoliciesService } from './policies.service.js';
import { PolicyChanges } from './policy-changes.js';
import { PolicyCommands } from './policy-commands.service.js';

/**
 * Ditto policies: storage, evaluation, the policy API and checkPermissions. Depends on no other
 * feature (things reach it through THING_POLICY_LOOKUP), so the twins feature can import it.
 */
@Module({
  imports: [JournalModule],
  controllers: [PoliciesController],
  providers: [PoliciesRepository, PoliciesService, PolicyChanges, PolicyCommands, CheckPermissions],
  exports: [PoliciesService, CheckPermissions, PolicyCommands],
})
export class PoliciesModule {}
