import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './bootstrap.js';
import { ConfigError } from './config/config.schema.js';
import { ConfigService } from './config/config.service.js';

async function main(): Promise<void> {
  const config = new ConfigService();
  const app = await createApp(config);
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
