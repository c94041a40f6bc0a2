import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { closeApp, createApp } from './bootstrap.js';
import { ConfigError } from './config/config.schema.js';
import { ConfigService } from './config/config.service.js';

async function main(): Promise<void> {
  const config = new ConfigService();
  const app = await createApp(config);
  // A process manager's stop: drain, close everything, stop an embedded database last, then exit.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      closeApp(app).then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
  await app.listen(config.get('PORT'), config.get('HOST'));
  new Logger('Main').log(
    `twin platform listening on http://${config.get('HOST')}:${config.get('PORT')} (API /api/2, docs /api/docs)`,
  );
}

main().catch((err: unknown) => {
  // A bad setting is the user's to fix: say which, without a stack trace.
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
