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
import { HttpAnswerInterceptor } from '../../common/http-answer.interceptor.js';
import type { PropertyRef } from '../../telemetry/telemetry.types.js';
import { parseInstantParam } from '../../telemetry/time.js';
import { thingAddress } from '../../twins/http/request-context.js';
import { validateFeatureId, validatePointerKeys } from '../../twins/model/identifiers.js';
import { parseThingId } from '../../twins/model/thing-id.js';
import { ForecastMonitor } from '../forecast-monitor.service.js';
import { ForecastingErrors } from '../forecasting.errors.js';
import { ForecastAccess } from './forecast-access.js';

const PROPERTY = 'api/2/things/:thingId/features/:featureId/properties/*path';
const DAY_MS = 86_400_000;
const MAX_RANGE_MS = 31 * DAY_MS;

/** The property a forecast route names: the raw path up to `/forecast` (`%2F` is no separator). */
const ForecastOf = createParamDecorator((_: unknown, ctx: ExecutionContext): PropertyRef => {
  const { thingId, path } = thingAddress(ctx.switchToHttp().getRequest<Request>().path);
  parseThingId(thingId);
  const end = path.lastIndexOf('forecast');
  const featureId = path[1];
  const property = path.slice(3, end);
  validateFeatureId(featureId);
  validatePointerKeys(property);
  return { thingId, featureId, path: property.join('/') };
});

/**
 * A property's forecast and its evaluation against actuals, additions under Ditto's things URL
 * space like the history. ForecastingModule is imported before TwinsModule, so these GET routes
 * are registered before the things wildcard; other methods on such paths still reach it.
 */
@ApiTags('Forecasting')
@Controller()
@UseInterceptors(HttpAnswerInterceptor)
export class ThingForecastController {
  constructor(
    @Inject(ForecastMonitor) private readonly monitor: ForecastMonitor,
    @Inject(ForecastAccess) private readonly access: ForecastAccess,
  ) {}

  @Get(`${PROPERTY}/forecast`)
  @ApiOperation({ summary: "The property's current forecast (the shape of the twin's `forecast` feature)" })
  @ApiParam({ name: 'thingId' })
  @ApiParam({ name: 'featureId' })
  @ApiParam({ name: 'path', description: 'Property path, e.g. power' })
  @ApiResponse({
    status: 200,
    description:
      '{target, horizon, step, generatedAt, model: {id, version, algorithm} | null, algorithm, fallback, fallbackReason?, error: {holdout, baseline, rolling}, points: [{ts, value, lower, upper}]}',
  })
  async forecast(@ForecastOf() ref: PropertyRef, @RequestAuth() auth: AuthContext): Promise<HttpAnswer> {
    await this.readable(ref, auth);
    return HttpAnswer.ok(await this.monitor.current(ref));
  }

  @Get(`${PROPERTY}/forecast/evaluation`)
  @ApiOperation({
    summary:
      'Forecasts against actuals: per step the actual, the forecast current at the time and the error, with MAPE/MAE/RMSE',
  })
  @ApiParam({ name: 'thingId' })
  @ApiParam({ name: 'featureId' })
  @ApiParam({ name: 'path' })
  @ApiQuery({ name: 'from', required: false, description: 'ISO 8601 or epoch ms; default to − 24 h' })
  @ApiQuery({
    name: 'to',
    required: false,
    description: 'ISO 8601 or epoch ms, exclusive; default now; at most 31 days after from',
  })
  @ApiResponse({
    status: 200,
    description:
      '{thingId, featureId, path, target, from, to, step, metrics: {mape, mae, rmse, n} | null, points: [{ts, actual, forecast, error, modelId, fallback}]}',
  })
  async evaluation(
    @ForecastOf() ref: PropertyRef,
    @Query() query: Record<string, unknown>,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    await this.readable(ref, auth);
    const to = instant(query.to, 'to') ?? Date.now();
    const from = instant(query.from, 'from') ?? to - DAY_MS;
    if (from >= to) throw ForecastingErrors.queryInvalid("'from' must be before 'to'.");
    if (to - from > MAX_RANGE_MS) throw ForecastingErrors.queryInvalid('The range may span at most 31 days.');
    return HttpAnswer.ok(await this.monitor.evaluation(ref, from, to));
  }

  /** A forecast shows the property's future: whoever may not read the property gets Ditto's 404. */
  private async readable(ref: PropertyRef, auth: AuthContext): Promise<void> {
    const path = ['features', ref.featureId, 'properties', ...ref.path.split('/')];
    if (!(await this.access.mayRead(auth, ref.thingId, path)))
      throw Errors.resourceNotFound(
        'things:feature.property.notfound',
        ref.thingId,
        `property '${ref.path}'`,
      );
  }
}

function instant(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const parsed = typeof v === 'string' ? parseInstantParam(v) : undefined;
  if (!parsed)
    throw ForecastingErrors.queryInvalid(
      `The parameter '${name}' must be given once, as ISO 8601 or epoch milliseconds.`,
    );
  return parsed.ms;
}
