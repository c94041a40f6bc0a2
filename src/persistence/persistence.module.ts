import { Global, Module } from '@nestjs/common';
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
/**
 * An embedded PostgreSQL is stopped by closeApp() (bootstrap.ts) once the whole application has
 * closed, not by a shutdown hook: hooks run module by module, and features still using the
 * database would find it gone.
 */
class DatabaseLocationModule {}

@Global()
@Module({
  imports: [
    DatabaseLocationModule,
    TypeOrmModule.forRootAsync({
      inject: [ConfigService, DatabaseLocation],
      useFactory: (config: ConfigService, location: DatabaseLocation) => ({
        // TypeORM runs the migrations; queries go through TransactionRunner's own pools.
        ...dataSourceOptions(location.url, 1),
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
