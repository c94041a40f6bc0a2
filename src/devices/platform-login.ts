import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';

/**
 * The user name of the platform's own MQTT client on the embedded broker. No thing id can take
 * it: thing ids have a `:` (namespace:name).
 */
export const PLATFORM_USERNAME = '$platform';

/** The client id of the platform's persistent MQTT session (MQTT_CLIENT_ID, else `<group>-<host>`). */
export function platformClientId(config: ConfigService): string {
  return config.get('MQTT_CLIENT_ID') ?? `${config.get('MQTT_SHARE_GROUP')}-${hostname()}`;
}

/**
 * How the platform's own client logs in to the embedded broker: a secret generated per process
 * (the embedded broker lives and dies with the process, so nothing needs to outlive it). With
 * MQTT_URL the credentials are those of the URL instead.
 */
@Injectable()
export class PlatformMqttLogin {
  readonly username = PLATFORM_USERNAME;
  readonly password = randomBytes(32).toString('base64url');
  readonly clientId: string;
  private readonly secret = Buffer.from(this.password);

  constructor(@Inject(ConfigService) config: ConfigService) {
    this.clientId = platformClientId(config);
  }

  matches(password: Buffer | undefined): boolean {
    return (
      password !== undefined &&
      password.length === this.secret.length &&
      timingSafeEqual(password, this.secret)
    );
  }
}
