import { Module } from '@nestjs/common';
import { TwinEventBus } from './event-bus.js';
import { JournalFeed } from './journal-feed.js';
import { JournalRepository } from './journal.repository.js';
import { JournalStatsRepository } from './journal-stats.repository.js';
import { JournalService } from './journal.service.js';

@Module({
  providers: [JournalRepository, JournalStatsRepository, JournalService, TwinEventBus, JournalFeed],
  exports: [JournalService, TwinEventBus, JournalFeed],
})
export class JournalModule {}
