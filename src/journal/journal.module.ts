import { Module } from '@nestjs/common';
import { TwinEventBus } from './event-bus.js';
import { JournalFeed } from './journal-feed.js';
import { JournalHistoryRepository } from './journal-history.repository.js';
import { JournalRepository } from './journal.repository.js';
import { JournalRetentionRepository } from './journal-retention.repository.js';
import { JournalRetentionService } from './journal-retention.service.js';
import { JournalStatsRepository } from './journal-stats.repository.js';
import { JournalService } from './journal.service.js';

@Module({
  providers: [
    JournalRepository,
    JournalStatsRepository,
    JournalHistoryRepository,
    JournalService,
    TwinEventBus,
    JournalFeed,
    JournalRetentionRepository,
    JournalRetentionService,
  ],
  exports: [JournalService, TwinEventBus, JournalFeed, JournalRetentionService],
})
export class JournalModule {}
