import { randomUUID } from 'node:crypto';
import {
  Controller,
  Delete,
  Get,
  Headers,
  Inject,
  Patch,
  Post,
  Put,
  Query,
  UseInterceptors,
} from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../../auth/auth-context.js';
import { RequestAuth } from '../../auth/request-auth.decorator.js';
import { JsonBody, MergePatchBody } from '../../common/body.js';
import { Errors } from '../../common/errors.js';
import { HttpAnswer } from '../../common/http-answer.js';
import { HttpAnswerInterceptor } from '../../common/http-answer.interceptor.js';
import { ConfigService } from '../../config/config.service.js';
import { HistoricalAt, type HistoricalPoint } from '../history/history-request.js';
import { ThingHistoryService } from '../history/thing-history.service.js';
import { toPointer, isJsonObject } from '../model/json-pointer.js';
import { isValidNamespace } from '../model/thing-id.js';
import { entityTag } from '../preconditions.js';
import { parseFields } from '../thing-view.js';
import type { TwinChange } from '../twin.types.js';
import { TwinsQueryService } from '../twins-query.service.js';
import { TwinsService } from '../twins.service.js';
import { DittoHeaders, ThingAt, type ThingAddress, type WriteContext } from './request-context.js';
import { refuseThingDescription } from './thing-description.js';

const THING = 'api/2/things/:thingId';
const RESOURCE = 'api/2/things/:thingId/*path';

/**
 * Ditto's HTTP API v2 for things and every sub-resource (policyId, definition, attributes[/path],
 * features[/id[/definition|/properties[/path]|/desiredProperties[/path]]]). One set of handlers
 * serves all levels: the address decorator turns the URL into a thing id and a JSON pointer.
 */
@ApiTags('Things')
@Controller()
@UseInterceptors(HttpAnswerInterceptor)
export class ThingsController {
  constructor(
    @Inject(TwinsService) private readonly twins: TwinsService,
    @Inject(TwinsQueryService) private readonly query: TwinsQueryService,
    @Inject(ConfigService) private readonly config: ConfigService,
    @Inject(ThingHistoryService) private readonly history: ThingHistoryService,
  ) {}

  @Get('api/2/things')
  @ApiOperation({ summary: 'Retrieve several things by id' })
  @ApiQuery({ name: 'ids', description: 'Comma separated thing ids', required: true })
  @ApiQuery({ name: 'fields', required: false })
  async list(
    @RequestAuth() auth: AuthContext,
    @Query('ids') ids?: string,
    @Query('fields') fields?: string,
  ): Promise<HttpAnswer> {
    const list = (ids ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (list.length === 0) throw Errors.thingIdsMissing();
    return HttpAnswer.ok(await this.query.getMany(list, parseFields(fields), auth));
  }

  @Post('api/2/things')
  @ApiOperation({ summary: 'Create a thing with a generated id in DEFAULT_NAMESPACE or ?namespace=' })
  @ApiQuery({ name: 'namespace', required: false })
  @ApiResponse({ status: 201, description: 'Created; body, Location and ETag' })
  async create(
    @JsonBody(false) body: unknown,
    @DittoHeaders() ctx: WriteContext,
    @RequestAuth() auth: AuthContext,
    @Query('namespace') namespace?: string,
  ): Promise<HttpAnswer> {
    const ns = namespace ?? this.config.get('DEFAULT_NAMESPACE');
    if (!isValidNamespace(ns)) throw Errors.namespacesInvalid(`The namespace '${ns}' is not valid.`);
    const thingId = `${ns}:${randomUUID()}`;
    // Ditto ignores a thingId in the body of a POST: the id is always generated.
    const value = isJsonObject(body) ? { ...body, thingId } : (body ?? {});
    const change = await this.twins.apply({
      type: 'create',
      thingId,
      path: [],
      value,
      origin: 'rest',
      auth,
      ...ctx,
    });
    return this.written({ thingId, path: [] }, change);
  }

  @Get([THING, RESOURCE])
  @ApiOperation({ summary: 'Retrieve a thing or any of its sub-resources' })
  @ApiParam({ name: 'thingId' })
  @ApiQuery({ name: 'fields', required: false })
  @ApiHeader({ name: 'If-None-Match', required: false })
  @ApiHeader({ name: 'at-historical-revision', required: false, description: 'Read as of that revision' })
  @ApiHeader({ name: 'at-historical-timestamp', required: false, description: 'Read as of that time' })
  @ApiResponse({ status: 200, description: 'The value, with ETag' })
  async get(
    @ThingAt() at: ThingAddress,
    @DittoHeaders() ctx: WriteContext,
    @RequestAuth() auth: AuthContext,
    @HistoricalAt() historical: HistoricalPoint | undefined,
    @Query('fields') fields?: string,
    @Headers('accept') accept?: string,
  ): Promise<HttpAnswer> {
    if (historical) {
      const past = await this.history.get(
        at.thingId,
        at.path,
        parseFields(fields),
        ctx.preconditions,
        auth,
        historical,
      );
      refuseThingDescription(accept, at.thingId);
      return HttpAnswer.ok(past.value, past.headers);
    }
    const read = await this.query.get(at.thingId, at.path, parseFields(fields), ctx.preconditions, auth);
    // After the read: a thing the caller cannot see stays a 404.
    refuseThingDescription(accept, at.thingId);
    return HttpAnswer.ok(read.value, { ETag: read.etag });
  }

  @Put([THING, RESOURCE])
  @ApiOperation({
    summary: 'Create or replace a thing or sub-resource: 201 with body when created, 204 otherwise',
  })
  @ApiParam({ name: 'thingId' })
  async put(
    @ThingAt() at: ThingAddress,
    @JsonBody() body: unknown,
    @DittoHeaders() ctx: WriteContext,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    const change = await this.twins.apply({
      type: 'modify',
      ...at,
      value: body,
      origin: 'rest',
      auth,
      ...ctx,
    });
    return this.written(at, change);
  }

  @Patch([THING, RESOURCE])
  @ApiOperation({ summary: 'Merge (RFC 7396, application/merge-patch+json) into a thing or sub-resource' })
  @ApiParam({ name: 'thingId' })
  async patch(
    @ThingAt() at: ThingAddress,
    @MergePatchBody() body: unknown,
    @DittoHeaders() ctx: WriteContext,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    const change = await this.twins.apply({
      type: 'merge',
      ...at,
      value: body,
      origin: 'rest',
      auth,
      ...ctx,
    });
    return this.written(at, change);
  }

  @Delete([THING, RESOURCE])
  @ApiOperation({ summary: 'Delete a thing or sub-resource' })
  @ApiParam({ name: 'thingId' })
  async remove(
    @ThingAt() at: ThingAddress,
    @DittoHeaders() ctx: WriteContext,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    await this.twins.apply({ type: 'delete', ...at, origin: 'rest', auth, ...ctx });
    return new HttpAnswer(204);
  }

  private written(at: ThingAddress, change: TwinChange): HttpAnswer {
    const headers: Record<string, string> = {};
    if (change.thing) headers.ETag = entityTag(change.thing.revision, at.path, change.value);
    if (change.status === 204) return new HttpAnswer(204, undefined, headers);
    const suffix = at.path.length ? toPointer(at.path) : '';
    headers.Location = `/api/2/things/${encodeURIComponent(at.thingId).replace(/%3A/g, ':')}${suffix}`;
    return new HttpAnswer(201, change.value, headers);
  }
}
