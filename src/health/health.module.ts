import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { IngestModule } from '../ingest/ingest.module.js';
import { JournalModule } from '../journal/journal.module.js';
import { HealthController } from './health.controller.js';

@Module({ imports: [TerminusModule, IngestModule, JournalModule], controllers: [HealthController] })
export class HealthModule {}
