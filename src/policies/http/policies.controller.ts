import { Controller, Delete, Get, Inject, Post, Put, Query, UseInterceptors } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../../auth/auth-context.js';
import { JsonBody } from '../../common/body.js';
import { HttpAnswer } from '../../common/http-answer.js';
import { HttpAnswerInterceptor } from '../../common/http-answer.interceptor.js';
import { DittoHeaders, type WriteContext } from '../../twins/http/request-context.js';
import { selectFields } from '../../twins/model/fields.js';
import { parseFields } from '../../twins/thing-view.js';
import { CheckPermissions } from '../check-permissions.service.js';
import { PolicyCommands, type PolicyRequest } from '../policy-commands.service.js';
import { Auth, PolicyAt, type PolicyAddress } from './policy-address.js';

const POLICY = 'api/2/policies/:policyId';
const RESOURCE = 'api/2/policies/:policyId/*path';

/**
 * Ditto's HTTP API v2 for policies and their sub-resources (entries, subjects, resources,
 * namespaces, importable, imports). One set of handlers for all levels: the address decorator
 * turns the URL into a policy id and the keys inside the policy.
 */
@ApiTags('Policies')
@Controller()
@UseInterceptors(HttpAnswerInterceptor)
export class PoliciesController {
  constructor(
    @Inject(PolicyCommands) private readonly commands: PolicyCommands,
    @Inject(CheckPermissions) private readonly permissions: CheckPermissions,
  ) {}

  @Post('api/2/checkPermissions')
  @ApiOperation({ summary: 'Check the requester’s permissions on resources of things and policies' })
  async checkPermissions(@Auth() auth: AuthContext, @JsonBody() body: unknown): Promise<HttpAnswer> {
    return HttpAnswer.ok(await this.permissions.check(auth, body));
  }

  @Get([POLICY, RESOURCE])
  @ApiOperation({ summary: 'Retrieve a policy or a sub-resource (the part the requester may read)' })
  @ApiParam({ name: 'policyId' })
  async get(
    @PolicyAt() at: PolicyAddress,
    @Auth() auth: AuthContext,
    @DittoHeaders() ctx: WriteContext,
    @Query('fields') fields?: string,
  ): Promise<HttpAnswer> {
    const read = await this.commands.retrieve(request(at, auth, ctx));
    const selector = at.path.length === 0 ? parseFields(fields) : undefined;
    const value = selector
      ? selectFields(
          {
            ...(read.value as Record<string, unknown>),
            _revision: read.stored.revision,
            _created: read.stored.created,
            _modified: read.stored.modified,
          },
          selector,
        )
      : read.value;
    return HttpAnswer.ok(value, { ETag: read.etag });
  }

  @Put([POLICY, RESOURCE])
  @ApiOperation({
    summary: 'Create or replace a policy or sub-resource: 201 with body when created, 204 otherwise',
  })
  @ApiParam({ name: 'policyId' })
  async put(
    @PolicyAt() at: PolicyAddress,
    @Auth() auth: AuthContext,
    @JsonBody() body: unknown,
    @DittoHeaders() ctx: WriteContext,
    @Query('allow-policy-lockout') lockout?: string,
  ): Promise<HttpAnswer> {
    const written = await this.commands.put(request(at, auth, ctx), body, lockout === 'true');
    if (written.status === 204) return new HttpAnswer(204, undefined, { ETag: written.etag });
    return new HttpAnswer(201, written.value, { ETag: written.etag, Location: at.rawPath });
  }

  @Delete([POLICY, RESOURCE])
  @ApiOperation({ summary: 'Delete a policy or sub-resource' })
  @ApiParam({ name: 'policyId' })
  async remove(
    @PolicyAt() at: PolicyAddress,
    @Auth() auth: AuthContext,
    @DittoHeaders() ctx: WriteContext,
  ): Promise<HttpAnswer> {
    await this.commands.remove(request(at, auth, ctx));
    return new HttpAnswer(204);
  }
}

function request(at: PolicyAddress, auth: AuthContext, ctx: WriteContext): PolicyRequest {
  return { ...at, auth, preconditions: ctx.preconditions, correlationId: ctx.correlationId };
}
