import { Controller, Get, Inject, UseGuards, Query, UseInterceptors } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { OperatorGuard } from '../auth/operator.guard.js';
import { HttpAnswer } from '../common/http-answer.js';
import { HttpAnswerInterceptor } from '../common/http-answer.interceptor.js';
import { DeadLettersService } from './dead-letters.service.js';
import { IngestStats } from './ingest-stats.js';

/** What operators need to see of the MQTT ingest; an addition to Ditto's API, for operators only. */
@ApiTags('Ingest')
@Controller('api/2/ingest')
@UseInterceptors(HttpAnswerInterceptor)
@UseGuards(OperatorGuard)
export class IngestController {
  constructor(
    @Inject(DeadLettersService) private readonly deadLetters: DeadLettersService,
    @Inject(IngestStats) private readonly stats: IngestStats,
  ) {}

  @Get('dead-letters')
  @ApiOperation({ summary: 'MQTT messages refused by the device contract, newest first' })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000, default 25' })
  @ApiQuery({ name: 'cursor', required: false, description: 'From the previous page' })
  @ApiQuery({ name: 'thingId', required: false })
  @ApiResponse({
    status: 200,
    description:
      '{items: [{id, receivedAt, topic, reason, message, thingId, payload, payloadEncoding}], cursor?}',
  })
  async list(@Query() query: Record<string, unknown>): Promise<HttpAnswer> {
    return HttpAnswer.ok(await this.deadLetters.list(query));
  }

  @Get('stats')
  @ApiOperation({ summary: "Counters of this replica's ingest since it started" })
  counters(): HttpAnswer {
    return HttpAnswer.ok(this.stats.view());
  }
}
