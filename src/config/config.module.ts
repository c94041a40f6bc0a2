import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ConfigService } from './config.service.js';

@Global()
@Module({})
export class ConfigModule {
  /** The validated config is built before Nest starts, so a bad value fails before anything opens. */
  static forRoot(config: ConfigService): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: ConfigService, useValue: config }],
      exports: [ConfigService],
    };
  }
}
