import { Module } from '@nestjs/common';
import { TwinEventBus } from './event-bus.js';
import { JournalRepository } from './journal.repository.js';
import { JournalService } from './journal.service.js';

@Module({
  providers: [JournalRepository, JournalService, TwinEventBus],
  exports: [JournalService, TwinEventBus],
})
export class JournalModule {}
