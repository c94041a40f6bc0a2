import { type INestApplication, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { authMiddleware, dashboardSecurityHeaders } from './auth/auth.middleware.js';
import { AuthService } from './auth/auth.service.js';
import { corsMiddleware } from './auth/cors.js';
import { RequestRate } from './auth/request-rate.js';
import { repeatedQueryParameters } from './common/query-params.js';
import { rawBodyCollector } from './common/raw-body.js';
import { ConfigService } from './config/config.service.js';
import { DatabaseLocation } from './persistence/database-location.js';
import { installRealtimeHttp } from './realtime/realtime.http.js';

const LEVELS: Record<string, LogLevel[]> = {
  silent: [],
  fatal: ['fatal'],
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  trace: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/** Builds the application exactly as production runs it; tests call this too. */
export async function createApp(config: ConfigService): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.withConfig(config), {
    bodyParser: false,
    logger: LEVELS[config.get('LOG_LEVEL')],
  });
  const limit = config.get('THING_MAX_SIZE_BYTES');
  app.set('etag', false);
  app.set('x-powered-by', false);
  // First: SSE and the static files are answered by Express middleware before Nest's routes;
  // CORS before authentication, as preflights carry no credentials.
  app.use(corsMiddleware(config.get('CORS_ORIGINS')));
  app.use(authMiddleware(app.get(AuthService)));
  app.use(app.get(RequestRate).middleware());
  app.use(repeatedQueryParameters());
  app.use(dashboardSecurityHeaders());
  app.use(rawBodyCollector(limit));
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

/**
 * Closes the application, then stops the embedded PostgreSQL it started (if any): last, when no
 * feature can still need it (the ingest commits its last batches while closing).
 */
export async function closeApp(app: INestApplication): Promise<void> {
  const location = app.get(DatabaseLocation);
  await app.close();
  await location.stop();
}
