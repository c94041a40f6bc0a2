import { Controller, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { AuthContext } from '../../auth/auth-context.js';
import { RequestAuth } from '../../auth/request-auth.decorator.js';
import { bodyFromBytes } from '../../protocol/messages.js';
import { MessageErrors } from '../messages.errors.js';
import { MessagesService } from '../messages.service.js';
import { answerResponse, forwardedHeaders, parseMessageRoute, parseTimeout } from './message-http.js';

const THING = 'api/2/things/:thingId';
const FEATURE = `${THING}/features/:featureId`;

/**
 * Ditto's HTTP messages API: POST to a thing's or feature's inbox (answered by the device or a
 * `/ws/2` client, or 408), to its outbox (fire and forget, 202), and claim messages. The answer's
 * status, content type and payload are the HTTP response, as Ditto forwards them.
 */
@ApiTags('Messages')
@Controller()
export class MessagesController {
  constructor(@Inject(MessagesService) private readonly messages: MessagesService) {}

  @Post([
    `${THING}/inbox/claim`,
    `${THING}/inbox/messages/*subject`,
    `${THING}/outbox/messages/*subject`,
    `${FEATURE}/inbox/messages/*subject`,
    `${FEATURE}/outbox/messages/*subject`,
  ])
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a live message to (inbox) or from (outbox) a thing or feature, or a claim' })
  @ApiQuery({
    name: 'timeout',
    required: false,
    description: 'Seconds to wait for the answer (0-60, default 10)',
  })
  @ApiResponse({ status: 202, description: 'Sent, no answer awaited (timeout=0, outbox)' })
  @ApiResponse({ status: 408, description: 'No answer within the timeout' })
  async send(
    @Req() req: Request,
    @Res() res: Response,
    @RequestAuth() auth: AuthContext,
    @Query('timeout') timeout?: string,
  ): Promise<void> {
    const route = parseMessageRoute(req.path);
    const seconds = parseTimeout(timeout);
    if (req.rawBodyTooLarge !== undefined) {
      // The HTTP body limit (THING_MAX_SIZE_BYTES) may be the smaller one.
      const limit = Math.min(req.rawBodyLimit ?? Infinity, this.messages.maxPayload);
      throw MessageErrors.payloadTooLarge(req.rawBodyTooLarge, limit);
    }
    const body = bodyFromBytes(req.header('content-type'), req.rawBody ?? Buffer.alloc(0));
    if ('problem' in body) throw MessageErrors.formatInvalid(body.problem);
    const result = await this.messages.send(auth, {
      ...route,
      headers: forwardedHeaders(req.headers),
      body,
      timeout: seconds,
      correlationId: req.header('correlation-id') || undefined,
    });
    res.setHeader('correlation-id', result.correlationId);
    if (result.kind === 'accepted') {
      res.status(202).end();
      return;
    }
    const out = answerResponse(result.answer);
    res.status(out.status);
    if (out.body === undefined) {
      res.end();
      return;
    }
    if (out.contentType) res.setHeader('content-type', out.contentType);
    res.end(out.body);
  }
}
