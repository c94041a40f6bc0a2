import {
  Controller,
  createParamDecorator,
  Get,
  Inject,
  Query,
  UseInterceptors,
  type ExecutionContext,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import type { AuthContext } from '../../auth/auth-context.js';
import { RequestAuth } from '../../auth/request-auth.decorator.js';
import { Errors } from '../../common/errors.js';
import { HttpAnswer } from '../../common/http-answer.js';
import { CheckPermissions } from '../../policies/check-permissions.service.js';
import { HttpAnswerInterceptor } from '../../common/http-answer.interceptor.js';
import { historyAddress, parseHistoryQuery } from '../history.query.js';
import type { PropertyRef } from '../telemetry.types.js';
import { TelemetryService } from '../telemetry.service.js';

/** The property whose history is asked for, from the raw URL path (see historyAddress). */
const HistoryOf = createParamDecorator((_: unknown, ctx: ExecutionContext): PropertyRef =>
  historyAddress(ctx.switchToHttp().getRequest<Request>().path),
);

/**
 * History of a feature property, an addition to Ditto's API under its things URL space. The
 * things controller's wildcard route would answer this path as a property named `…/history`;
 * TelemetryModule is imported before TwinsModule, so Nest registers this more specific GET
 * route first and Express matches it first. Only GET is taken: PUT, PATCH and DELETE of such a
 * path still reach the things controller.
 */
@ApiTags('Telemetry')
@Controller()
@UseInterceptors(HttpAnswerInterceptor)
export class HistoryController {
  constructor(
    @Inject(TelemetryService) private readonly telemetry: TelemetryService,
    @Inject(CheckPermissions) private readonly permissions: CheckPermissions,
  ) {}

  @Get('api/2/things/:thingId/features/:featureId/properties/*path/history')
  @ApiOperation({
    summary:
      'History of a feature property: raw points (paged with cursor) or time buckets (with step and agg)',
  })
  @ApiParam({ name: 'thingId' })
  @ApiParam({ name: 'featureId' })
  @ApiParam({ name: 'path', description: 'Property path, one or more segments, e.g. status/level' })
  @ApiQuery({ name: 'from', required: false, description: 'ISO 8601 or epoch ms; default to − 24 h' })
  @ApiQuery({ name: 'to', required: false, description: 'ISO 8601 or epoch ms, exclusive; default now' })
  @ApiQuery({
    name: 'step',
    required: false,
    description: 'Bucket width: 1m, 15m, 1h, 1d or ISO 8601 (PT5M)',
  })
  @ApiQuery({ name: 'agg', required: false, enum: ['avg', 'min', 'max', 'sum', 'count', 'first', 'last'] })
  @ApiQuery({ name: 'limit', required: false, description: 'Raw points per page, 1..10000, default 100' })
  @ApiQuery({ name: 'cursor', required: false, description: 'From the previous page' })
  @ApiResponse({
    status: 200,
    description: '{thingId, featureId, path, from, to, points, cursor?} or {…, step, agg, buckets}',
  })
  async history(
    @HistoryOf() ref: PropertyRef,
    @Query() query: Record<string, unknown>,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    // The history of a value is the value over time: whoever may not read it gets Ditto's 404.
    const path = ['features', ref.featureId, 'properties', ...ref.path.split('/')];
    if (!(await this.permissions.mayReadThing(auth, ref.thingId, path))) {
      throw Errors.resourceNotFound(
        'things:feature.property.notfound',
        ref.thingId,
        `property '${ref.path}'`,
      );
    }
    return HttpAnswer.ok(await this.telemetry.history(ref, parseHistoryQuery(ref, query, Date.now())));
  }
}
