import { Module } from '@nestjs/common';
import { JournalModule } from '../journal/journal.module.js';
import { PoliciesRepository } from './policies.repository.js';
import { PoliciesService } from './policies.service.js';
import { PolicyChanges } from './policy-changes.js';

/**
 * Ditto policies: storage, evaluation, the policy API and checkPermissions. Depends on no other
 * feature (things reach it through THING_POLICY_LOOKUP), so the twins feature can import it.
 */
@Module({
  imports: [JournalModule],
  providers: [PoliciesRepository, PoliciesService, PolicyChanges],
  exports: [PoliciesService],
})
export class PoliciesModule {}
