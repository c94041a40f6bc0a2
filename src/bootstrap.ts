import { type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { RequestHandler } from 'express';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module.js';
import { authMiddleware, dashboardSecurityHeaders } from './auth/auth.middleware.js';
import { AuthService } from './auth/auth.service.js';
import { corsMiddleware } from './auth/cors.js';
import { RequestRate } from './auth/request-rate.js';
import { HttpDrain } from './common/http-drain.js';
import { inFrontOfExpress, PlatformExpressAdapter } from './common/in-front-of-express.js';
import { middlewareChain } from './common/middleware-chain.js';
import { liveChannelRefused, repeatedQueryParameters } from './common/query-params.js';
import { rawBodyCollector } from './common/raw-body.js';
import { answerClientErrors, urlLengthLimit } from './common/request-size.js';
import { ConfigService } from './config/config.service.js';
import { createRootLogger, PinoNestLogger } from './logging/logger.js';
import { requestLog } from './logging/request-log.js';
import { httpMetrics } from './metrics/http-metrics.js';
import { PlatformMetrics } from './metrics/platform-metrics.js';
import { DatabaseLocation } from './persistence/database-location.js';
import { installRealtimeHttp } from './realtime/realtime.http.js';
import { directReads } from './twins/http/direct-reads.js';
import { SearchService } from './twins/search.service.js';
import { TwinsQueryService } from './twins/twins-query.service.js';

export interface AppOptions {
  /** Where the JSON log lines go instead of stdout (tests read them). */
  logDestination?: DestinationStream;
  /**
   * Runs after the platform's middleware, before anything answers a route (the direct reads
   * included): the tests check every API response against Ditto's spec there.
   */
  beforeRoutes?: RequestHandler;
}

/** Builds the application exactly as production runs it; tests call this too. */
export async function createApp(config: ConfigService, options: AppOptions = {}): Promise<INestApplication> {
  // Every Nest Logger call goes to pino (JSON lines; LOG_LEVEL filters).
  const log = await createRootLogger(config.get('LOG_LEVEL'), options.logDestination);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.withConfig(config),
    new PlatformExpressAdapter(),
    {
      bodyParser: false,
      logger: new PinoNestLogger(log),
    },
  );
  const limit = config.get('THING_MAX_SIZE_BYTES');
  app.set('etag', false);
  app.set('x-powered-by', false);
  // First, in front of Express: SSE and the static files are answered by Express middleware
  // before Nest's routes; CORS before authentication, as preflights carry no credentials. Logs
  // and metrics see all.
  answerClientErrors(app.getHttpServer());
  drains.set(app, new HttpDrain(app.getHttpServer()));
  inFrontOfExpress(
    app,
    middlewareChain([
      requestLog(log),
      httpMetrics(app.get(PlatformMetrics)),
      urlLengthLimit(config.get('HTTP_MAX_URL_LENGTH')),
      corsMiddleware(config.get('CORS_ORIGINS')),
      authMiddleware(app.get(AuthService)),
      app.get(RequestRate).middleware(),
      repeatedQueryParameters(),
      liveChannelRefused(),
      dashboardSecurityHeaders(),
      rawBodyCollector(limit),
      ...(options.beforeRoutes ? [options.beforeRoutes] : []),
      ...(config.get('HTTP_DIRECT_READS')
        ? [directReads(app.get(TwinsQueryService), app.get(SearchService))]
        : []),
    ]),
  );
  app.useWebSocketAdapter(new WsAdapter(app));
  installRealtimeHttp(app);
  const doc = new DocumentBuilder()
    .setTitle('Twin platform')
    .setDescription("Digital twins with Eclipse Ditto's HTTP API v2 on PostgreSQL")
    .setVersion('2')
    .build();
  SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, doc));
  return app;
}

const drains = new WeakMap<INestApplication, HttpDrain>();

/**
 * Stops taking HTTP connections and lets the requests in flight be answered (at most
 * HTTP_SHUTDOWN_DRAIN_MS), closes the application, then stops the embedded PostgreSQL it started
 * (if any): last, when no feature can still need it (the ingest commits its last batches while
 * closing).
 */
export async function closeApp(app: INestApplication): Promise<void> {
  const location = app.get(DatabaseLocation);
  await drains.get(app)?.drain(app.get(ConfigService).get('HTTP_SHUTDOWN_DRAIN_MS'));
  await app.close();
  await location.stop();
}
