import { Module } from '@nestjs/common';
import { JournalModule } from '../journal/journal.module.js';
import { PoliciesModule } from '../policies/policies.module.js';
import { TwinsModule } from '../twins/twins.module.js';
import { DittoSyncRepository } from './ditto-sync.repository.js';
import { DittoSyncService } from './ditto-sync.service.js';
import { DittoController } from './ditto.controller.js';

/** Two-way sync with an Eclipse Ditto; idle unless DITTO_URL is set. */
@Module({
  imports: [JournalModule, TwinsModule, PoliciesModule],
  controllers: [DittoController],
  providers: [DittoSyncRepository, DittoSyncService],
})
export class DittoModule {}
