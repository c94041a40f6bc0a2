import { Global, Module, type DynamicModule } from '@nestjs/common';
import { setQueryLimits } from '../common/query-limits.js';
import { ConfigService } from './config.service.js';

@Global()
@Module({})
export class ConfigModule {
  /** The validated config is built before Nest starts, so a bad value fails before anything opens. */
  static forRoot(config: ConfigService): DynamicModule {
    setQueryLimits({
      rqlMaxNodes: config.values.RQL_MAX_NODES,
      sortKeys: config.values.RQL_MAX_SORT_KEYS,
      fields: config.values.FIELDS_MAX_ENTRIES,
    });
    return {
      module: ConfigModule,
      providers: [{ provide: ConfigService, useValue: config }],
      exports: [ConfigService],
    };
  }
}
