import { Controller, Get, Inject, Param, Post, Query, UseInterceptors } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../../auth/auth-context.js';
import { RequestAuth } from '../../auth/request-auth.decorator.js';
import { JsonBody } from '../../common/body.js';
import { HttpAnswer } from '../../common/http-answer.js';
import { HttpAnswerInterceptor } from '../../common/http-answer.interceptor.js';
import { isJsonObject } from '../../twins/model/json-pointer.js';
import { parseThingId } from '../../twins/model/thing-id.js';
import { modelView } from '../forecast-view.js';
import { ForecastEvents } from '../forecast-events.service.js';
import { ForecastingErrors } from '../forecasting.errors.js';
import { ForecastingService } from '../forecasting.service.js';
import { ForecastAccess } from './forecast-access.js';

/** The model registry and the MLOps events: a platform addition beside Ditto's API. */
@ApiTags('Forecasting')
@Controller('api/2/forecasting')
@UseInterceptors(HttpAnswerInterceptor)
export class ForecastingController {
  constructor(
    @Inject(ForecastingService) private readonly forecasting: ForecastingService,
    @Inject(ForecastEvents) private readonly events: ForecastEvents,
    @Inject(ForecastAccess) private readonly access: ForecastAccess,
  ) {}

  @Get('models')
  @ApiOperation({ summary: "A thing's model versions, newest first (without the serialized model)" })
  @ApiQuery({ name: 'thingId', required: true })
  @ApiResponse({
    status: 200,
    description:
      '{items: [{id, thingId, target, version, algorithm, hyperparameters, trainFrom, trainTo, holdoutFrom, fingerprint, metrics: {mape, mae, rmse, n}, baseline: {naive, naiveDay, naiveWeek}, parts, status: candidate|active|retired, createdAt, activatedAt, rollingMae, rollingN, checkedUntil}]}',
  })
  async list(@Query('thingId') thingId: unknown, @RequestAuth() auth: AuthContext): Promise<HttpAnswer> {
    const id = thingIdOf(thingId);
    await this.access.read(auth, id);
    return HttpAnswer.ok({ items: await this.forecasting.models(id) });
  }

  @Get('models/:id')
  @ApiOperation({ summary: 'One model version' })
  @ApiParam({ name: 'id', description: 'The model id (a UUID)' })
  async get(@Param('id') id: string, @RequestAuth() auth: AuthContext): Promise<HttpAnswer> {
    const row = await this.forecasting.model(id);
    if (!(await this.access.mayRead(auth, row.thingId))) throw ForecastingErrors.modelNotFound(id);
    return HttpAnswer.ok(modelView(row));
  }

  @Post('models/train')
  @ApiOperation({
    summary:
      "Train the thing's target now; the new version becomes active only if it beats the active one on the newest holdout week. Needs WRITE on thing:/features/forecast.",
  })
  @ApiBody({ schema: { type: 'object', properties: { thingId: { type: 'string' } }, required: ['thingId'] } })
  @ApiResponse({ status: 200, description: '{model, promoted, reason}' })
  async train(@JsonBody() body: unknown, @RequestAuth() auth: AuthContext): Promise<HttpAnswer> {
    const thingId = thingIdOf(isJsonObject(body) ? body.thingId : undefined);
    await this.access.write(auth, thingId);
    return HttpAnswer.ok(await this.forecasting.train(thingId, 'api'));
  }

  @Post('models/:id/pin')
  @ApiOperation({ summary: 'Make this version the active one of its target (pin). Needs WRITE.' })
  @ApiParam({ name: 'id' })
  async pin(@Param('id') id: string, @RequestAuth() auth: AuthContext): Promise<HttpAnswer> {
    const row = await this.forecasting.model(id);
    if (!(await this.access.mayRead(auth, row.thingId))) throw ForecastingErrors.modelNotFound(id);
    await this.access.write(auth, row.thingId);
    return HttpAnswer.ok(await this.forecasting.pin(id));
  }

  @Post('models/rollback')
  @ApiOperation({
    summary: "Return the thing's target to the version active before the current one. Needs WRITE.",
  })
  @ApiBody({ schema: { type: 'object', properties: { thingId: { type: 'string' } }, required: ['thingId'] } })
  async rollback(@JsonBody() body: unknown, @RequestAuth() auth: AuthContext): Promise<HttpAnswer> {
    const thingId = thingIdOf(isJsonObject(body) ? body.thingId : undefined);
    await this.access.write(auth, thingId);
    return HttpAnswer.ok(await this.forecasting.rollback(thingId));
  }

  @Get('events')
  @ApiOperation({
    summary:
      'MLOps events newest first: trained, promoted, rejected, pinned, rollback, drift, fallback, training_failed',
  })
  @ApiQuery({ name: 'thingId', required: false })
  @ApiQuery({ name: 'kind', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1..1000, default 100' })
  @ApiQuery({ name: 'cursor', required: false, description: 'From the previous page' })
  @ApiResponse({
    status: 200,
    description: '{items: [{id, thingId, target, modelId, kind, detail, createdAt}], cursor?}',
  })
  async listEvents(
    @Query() query: Record<string, unknown>,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    return HttpAnswer.ok(await this.events.list(query, auth));
  }
}

function thingIdOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0)
    throw ForecastingErrors.queryInvalid("The thing is missing: give 'thingId'.");
  parseThingId(value);
  return value;
}
