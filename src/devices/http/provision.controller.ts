import { Controller, Inject, Post, UseInterceptors } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AuthContext } from '../../auth/auth-context.js';
import { RequestAuth } from '../../auth/request-auth.decorator.js';
import { JsonBody } from '../../common/body.js';
import { HttpAnswer } from '../../common/http-answer.js';
import { HttpAnswerInterceptor } from '../../common/http-answer.interceptor.js';
import { DeviceProvisioning, MAX_PROVISION } from '../device-provisioning.service.js';

/** Bulk provisioning of devices, a platform extension. */
@ApiTags('Devices')
@Controller()
@UseInterceptors(HttpAnswerInterceptor)
export class ProvisionController {
  constructor(@Inject(DeviceProvisioning) private readonly provisioning: DeviceProvisioning) {}

  @Post('api/2/devices/provision')
  @ApiOperation({
    summary:
      `Create up to ${MAX_PROVISION} devices at once: things that do not exist are created as the caller ` +
      '(Ditto’s default policy), each gets credentials (a generated secret unless given, returned only here; ' +
      'existing credentials are rotated). Needs WRITE on policy:/ of every existing thing’s policy.',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['things'],
      properties: {
        things: {
          type: 'array',
          maxItems: MAX_PROVISION,
          items: {
            type: 'object',
            required: ['thingId'],
            properties: {
              thingId: { type: 'string' },
              secret: { type: 'string', minLength: 16, maxLength: 256 },
            },
          },
        },
      },
    },
  })
  @ApiResponse({
    status: 200,
    description: '{things: [{thingId, thingCreated, credentialsCreated, secret?}]} in the order given',
  })
  @ApiResponse({ status: 403, description: 'The caller does not administer one of the existing things' })
  async provision(@JsonBody() body: unknown, @RequestAuth() auth: AuthContext): Promise<HttpAnswer> {
    return HttpAnswer.ok({ things: await this.provisioning.provision(auth, body) });
  }
}
