import { Controller, Get, Inject, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { OperatorGuard } from '../auth/operator.guard.js';
import { HttpAnswer } from '../common/http-answer.js';
import { HttpAnswerInterceptor } from '../common/http-answer.interceptor.js';
import { DittoSyncService } from './ditto-sync.service.js';

/** The state of the sync with Eclipse Ditto; an addition to Ditto's API, for operators only. */
@ApiTags('Ditto sync')
@Controller('api/2/sync')
@UseInterceptors(HttpAnswerInterceptor)
@UseGuards(OperatorGuard)
export class DittoController {
  constructor(@Inject(DittoSyncService) private readonly sync: DittoSyncService) {}

  @Get('ditto')
  @ApiOperation({ summary: 'Whether the sync runs, its backlog, and the things Ditto refused' })
  @ApiResponse({
    status: 200,
    description:
      '{enabled, role: active|standby, connected, backlog: {changes, oldestChangeAt, oldestChangeAgeSeconds}, ' +
      'cursor, stats, reconcile, failing: {total, things: [{thingId, revision, status, error, message, at}]}}',
  })
  async status(): Promise<HttpAnswer> {
    return HttpAnswer.ok(await this.sync.status());
  }
}
