import { Module } from '@nestjs/common';
import { JournalModule } from '../journal/journal.module.js';
import { SearchController } from './http/search.controller.js';
import { ThingsController } from './http/things.controller.js';
import { SearchService } from './search.service.js';
import { TwinsQueryService } from './twins-query.service.js';
import { TwinsRepository } from './twins.repository.js';
import { TwinsService } from './twins.service.js';

@Module({
  imports: [JournalModule],
  controllers: [SearchController, ThingsController],
  providers: [TwinsRepository, TwinsService, TwinsQueryService, SearchService],
  exports: [TwinsService, TwinsQueryService, SearchService],
})
export class TwinsModule {}
