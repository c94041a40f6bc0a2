import { Controller, Delete, Get, Inject, Put, UseInterceptors } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../../auth/auth-context.js';
import { RequestAuth } from '../../auth/request-auth.decorator.js';
import { JsonBody } from '../../common/body.js';
import { Errors } from '../../common/errors.js';
import { HttpAnswer } from '../../common/http-answer.js';
import { HttpAnswerInterceptor } from '../../common/http-answer.interceptor.js';
import { CheckPermissions } from '../../policies/check-permissions.service.js';
import { isJsonObject } from '../../twins/model/json-pointer.js';
import { parseThingId } from '../../twins/model/thing-id.js';
import { ThingAt, type ThingAddress } from '../../twins/http/request-context.js';
import { DeviceCredentialsService } from '../device-credentials.service.js';
import { requireAdmin } from '../device-admin.js';

const CREDENTIALS = 'api/2/things/:thingId/credentials';

/**
 * A device's MQTT credentials, a platform extension under Ditto's things URL space. The things
 * controller's wildcard route (`api/2/things/:thingId/*path`) would take this path as a thing
 * resource named `credentials`; DevicesModule is imported before TwinsModule, so Nest registers
 * these routes first and Express matches them first (Ditto has no `credentials` resource).
 */
@ApiTags('Devices')
@Controller()
@UseInterceptors(HttpAnswerInterceptor)
export class CredentialsController {
  constructor(
    @Inject(DeviceCredentialsService) private readonly credentials: DeviceCredentialsService,
    @Inject(CheckPermissions) private readonly permissions: CheckPermissions,
  ) {}

  @Put(CREDENTIALS)
  @ApiOperation({
    summary:
      'Set the device secret (MQTT password; user name and client id = thing id). Without a secret one is ' +
      'generated and returned in this response only. On a rotation the previous secret stays valid for ' +
      'DEVICE_SECRET_GRACE_SECONDS. Needs WRITE on policy:/ of the thing’s policy.',
  })
  @ApiParam({ name: 'thingId' })
  @ApiBody({
    required: false,
    schema: {
      type: 'object',
      properties: {
        secret: { type: 'string', minLength: 16, maxLength: 256, description: 'printable ASCII' },
      },
    },
  })
  @ApiResponse({
    status: 201,
    description: 'Created: {thingId, created, rotated, previousSecretValidUntil, secret?}',
  })
  @ApiResponse({ status: 200, description: 'Rotated: as 201; secret only when generated' })
  @ApiResponse({ status: 403, description: 'The caller may read the thing but not administer it' })
  @ApiResponse({ status: 404, description: 'No such thing, or the caller cannot read it' })
  async put(
    @ThingAt() at: ThingAddress,
    @JsonBody(false) body: unknown,
    @RequestAuth() auth: AuthContext,
  ): Promise<HttpAnswer> {
    const thingId = this.thingIdOf(at);
    const secret = secretOf(body);
    // Refuse a bad secret before looking anything up.
    DeviceCredentialsService.check([{ thingId, ...(secret === undefined ? {} : { secret }) }]);
    await requireAdmin(this.permissions, auth, thingId);
    const [set] = await this.credentials.set([{ thingId, ...(secret === undefined ? {} : { secret }) }]);
    const metadata = await this.credentials.metadata(thingId);
    return new HttpAnswer(set.created ? 201 : 200, {
      ...metadata,
      ...(set.secret === undefined ? {} : { secret: set.secret }),
    });
  }

  @Get(CREDENTIALS)
  @ApiOperation({ summary: 'When the device credentials were created and rotated; never the secret' })
  @ApiParam({ name: 'thingId' })
  @ApiResponse({ status: 200, description: '{thingId, created, rotated, previousSecretValidUntil}' })
  async get(@ThingAt() at: ThingAddress, @RequestAuth() auth: AuthContext): Promise<HttpAnswer> {
    const thingId = this.thingIdOf(at);
    await requireAdmin(this.permissions, auth, thingId);
    return HttpAnswer.ok(await this.credentials.metadata(thingId));
  }

  @Delete(CREDENTIALS)
  @ApiOperation({
    summary: 'Delete the device credentials (current and previous secret); open sessions stay',
  })
  @ApiParam({ name: 'thingId' })
  @ApiResponse({ status: 204, description: 'Deleted' })
  async delete(@ThingAt() at: ThingAddress, @RequestAuth() auth: AuthContext): Promise<HttpAnswer> {
    const thingId = this.thingIdOf(at);
    await requireAdmin(this.permissions, auth, thingId);
    await this.credentials.delete(thingId);
    return new HttpAnswer(204);
  }

  private thingIdOf(at: ThingAddress): string {
    parseThingId(at.thingId);
    return at.thingId;
  }
}

function secretOf(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  if (!isJsonObject(body))
    throw Errors.jsonInvalid('The body must be a JSON object such as {"secret": "…"}.');
  const unknown = Object.keys(body).filter((k) => k !== 'secret');
  if (unknown.length > 0)
    throw Errors.jsonInvalid(`Unknown field '${unknown[0].slice(0, 100)}'; only 'secret' is allowed.`);
  if (body.secret === undefined) return undefined;
  if (typeof body.secret !== 'string') throw Errors.jsonInvalid("'secret' must be a string.");
  return body.secret;
}
