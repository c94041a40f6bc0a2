import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ConfigService } from '../config/config.service.js';
import { PlatformMetrics } from './platform-metrics.js';

/**
 * Prometheus' scrape endpoint. Outside the API's authentication (auth.middleware.ts leaves it
 * open): with METRICS_TOKEN set it wants `Authorization: Bearer <token>`, without it anyone who
 * reaches the port may read it.
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  private readonly token: Buffer | undefined;

  constructor(
    @Inject(PlatformMetrics) private readonly metrics: PlatformMetrics,
    @Inject(ConfigService) config: ConfigService,
  ) {
    const token = config.get('METRICS_TOKEN');
    this.token = token === undefined ? undefined : digest(token);
  }

  @Get()
  async scrape(@Req() req: Request, @Res() res: Response): Promise<void> {
    res.setHeader('cache-control', 'no-store');
    if (!this.authorized(req.header('authorization'))) {
      res
        .status(401)
        .setHeader('www-authenticate', 'Bearer realm="metrics"')
        .type('text/plain')
        .send('401 Unauthorized: GET /metrics wants Authorization: Bearer <METRICS_TOKEN>\n');
      return;
    }
    const body = await this.metrics.render();
    res.status(200).type(this.metrics.registry.contentType).send(body);
  }

  private authorized(header: string | undefined): boolean {
    if (!this.token) return true;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    // Compared as digests: same length whatever was sent, and in constant time.
    return match !== null && timingSafeEqual(digest(match[1]), this.token);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
