import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { Errors } from '../common/errors.js';
import { DeviceCredentialsRepository } from './device-credentials.repository.js';
import {
  CHOSEN_COST,
  GENERATED_COST,
  generateSecret,
  hashSecret,
  secretProblem,
  verifyCredentials,
} from './device-secret.js';
import { usableOverMqtt } from './device-topics.js';
import { DeviceErrors } from './devices.errors.js';

export interface CredentialsRequest {
  thingId: string;
  /** A secret the caller chose; without it one is generated. */
  secret?: string;
}

export interface CredentialsSet {
  thingId: string;
  /** False when the device had credentials already (a rotation). */
  created: boolean;
  /** The generated secret: shown this once, never readable again. */
  secret?: string;
}

/** What GET answers: never the secret nor its hash. */
export interface CredentialsMetadata {
  thingId: string;
  created: string;
  rotated: string | null;
  /** Until when the secret before the last rotation still works, while it does. */
  previousSecretValidUntil: string | null;
}

/** Hashes at once: scrypt runs on libuv's thread pool, which has 4 threads by default. */
const HASH_PARALLELISM = 4;

/**
 * Device credentials for MQTT: set (create or rotate), metadata, delete, and the check a CONNECT
 * runs. Authorization is the caller's (the controllers ask CheckPermissions first).
 */
@Injectable()
export class DeviceCredentialsService {
  private readonly graceSeconds: number;

  constructor(
    @Inject(DeviceCredentialsRepository) private readonly repo: DeviceCredentialsRepository,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.graceSeconds = config.get('DEVICE_SECRET_GRACE_SECONDS');
  }

  /** Validates chosen secrets before anything is hashed or written. */
  static check(requests: readonly CredentialsRequest[]): void {
    for (const r of requests) {
      if (!usableOverMqtt(r.thingId)) throw DeviceErrors.thingIdUnusable(r.thingId);
      if (r.secret === undefined) continue;
      const problem = secretProblem(r.secret);
      if (problem) throw DeviceErrors.secretInvalid(`${problem} (Thing '${r.thingId}')`);
    }
  }

  async set(requests: readonly CredentialsRequest[]): Promise<CredentialsSet[]> {
    DeviceCredentialsService.check(requests);
    const prepared: { thingId: string; hash: string; generated?: string }[] = new Array(requests.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const i = next++;
        const r = requests[i];
        const generated = r.secret === undefined ? generateSecret() : undefined;
        const hash = await hashSecret(generated ?? r.secret!, generated ? GENERATED_COST : CHOSEN_COST);
        prepared[i] = { thingId: r.thingId, hash, ...(generated ? { generated } : {}) };
      }
    };
    await Promise.all(Array.from({ length: Math.min(HASH_PARALLELISM, requests.length) }, worker));
    let inserted: Set<string>;
    try {
      inserted = await this.repo.upsert(prepared, this.graceSeconds);
    } catch (err) {
      // The thing was deleted between the permission check and this write.
      if ((err as { code?: unknown }).code === '23503') {
        const missing = /\(thing_id\)=\((.*)\)/.exec((err as { detail?: string }).detail ?? '')?.[1];
        throw Errors.thingNotFound(missing ?? requests[0].thingId);
      }
      throw err;
    }
    return prepared.map((p) => ({
      thingId: p.thingId,
      created: inserted.has(p.thingId),
      ...(p.generated ? { secret: p.generated } : {}),
    }));
  }

  async metadata(thingId: string): Promise<CredentialsMetadata> {
    const row = await this.repo.find(thingId);
    if (!row) throw DeviceErrors.credentialsNotFound(thingId);
    return {
      thingId,
      created: row.created.toISOString(),
      rotated: row.rotated?.toISOString() ?? null,
      previousSecretValidUntil: row.previousUntil?.toISOString() ?? null,
    };
  }

  async delete(thingId: string): Promise<void> {
    if (!(await this.repo.delete(thingId))) throw DeviceErrors.credentialsNotFound(thingId);
  }

  /** Whether `password` is the device's secret, or its previous one within the grace period. */
  async verify(thingId: string, password: Buffer): Promise<boolean> {
    const row = await this.repo.find(thingId);
    return row !== undefined && verifyCredentials(password, row);
  }
}
