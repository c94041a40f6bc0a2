import { Module } from '@nestjs/common';
import { JournalModule } from '../journal/journal.module.js';
import { PoliciesModule } from '../policies/policies.module.js';
import { THING_POLICY_LOOKUP } from '../policies/thing-policy-lookup.js';
import { HistoryRepository } from './history/history.repository.js';
import { ThingHistoryService } from './history/thing-history.service.js';
import { SearchController } from './http/search.controller.js';
import { ThingsController } from './http/things.controller.js';
import { SearchCacheCheck } from './search-cache-check.js';
import { SearchIndexUpkeep } from './search-index-upkeep.js';
import { SearchService } from './search.service.js';
import { ThingPolicies } from './thing-policies.js';
import { TwinsQueryService } from './twins-query.service.js';
import { TwinsRepository } from './twins.repository.js';
import { TwinsService } from './twins.service.js';

@Module({
  imports: [JournalModule, PoliciesModule],
  controllers: [SearchController, ThingsController],
  providers: [
    TwinsRepository,
    TwinsService,
    TwinsQueryService,
    SearchService,
    SearchIndexUpkeep,
    SearchCacheCheck,
    HistoryRepository,
    ThingHistoryService,
    { provide: THING_POLICY_LOOKUP, useClass: ThingPolicies },
  ],
  exports: [TwinsService, TwinsQueryService, SearchService, ThingHistoryService, THING_POLICY_LOOKUP],
})
export class TwinsModule {}
