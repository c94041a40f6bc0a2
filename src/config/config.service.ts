import { Injectable } from '@nestjs/common';
import { loadConfig, type AppConfig } from './config.schema.js';

/** Typed, validated settings; validation happens once, when the module is built. */
@Injectable()
export class ConfigService {
  readonly values: AppConfig;

  constructor(values?: AppConfig) {
    this.values = values ?? loadConfig();
  }

  get<K extends keyof AppConfig>(key: K): AppConfig[K] {
    return this.values[key];
  }
}
