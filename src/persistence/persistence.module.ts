import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConfigService } from '../config/config.service.js';
import { dataSourceOptions } from './data-source.options.js';
import { DatabaseLocation } from './database-location.js';
import { TransactionRunner } from './transaction.js';

@Global()
@Module({
  providers: [
    {
      provide: DatabaseLocation,
      inject: [ConfigService],
      useFactory: (config: ConfigService) => DatabaseLocation.resolve(config.values),
    },
  ],
  exports: [DatabaseLocation],
})
class DatabaseLocationModule implements OnApplicationShutdown {
  constructor(@Inject(DatabaseLocation) private readonly location: DatabaseLocation) {}

  // Runs after TypeORM closed its pool (module destroy), so the embedded server stops last.
  async onApplicationShutdown(): Promise<void> {
    await this.location.stop();
  }
}

@Global()
@Module({
  imports: [
    DatabaseLocationModule,
    TypeOrmModule.forRootAsync({
      inject: [ConfigService, DatabaseLocation],
      useFactory: (config: ConfigService, location: DatabaseLocation) => ({
        ...dataSourceOptions(location.url, config.get('DATABASE_POOL_SIZE')),
        // Schema changes only through migrations, applied at boot.
        migrationsRun: true,
        migrationsTransactionMode: 'each' as const,
      }),
    }),
  ],
  providers: [TransactionRunner],
  exports: [TransactionRunner],
})
export class PersistenceModule {}
