import { Inject, Injectable } from '@nestjs/common';
import type { AuthContext } from '../auth/auth-context.js';
import { CheckPermissions } from '../policies/check-permissions.service.js';
import { parseFieldSelector } from '../twins/model/fields.js';
import { isJsonObject } from '../twins/model/json-pointer.js';
import { isValidThingId } from '../twins/model/thing-id.js';
import { TwinsQueryService } from '../twins/twins-query.service.js';
import { TwinsService } from '../twins/twins.service.js';
import { requireAdmin } from './device-admin.js';
import { DeviceCredentialsService, type CredentialsRequest } from './device-credentials.service.js';
import { DeviceErrors } from './devices.errors.js';

/** Things per provisioning call: bounds the call's hashing and its transaction. */
export const MAX_PROVISION = 1000;
const ID_ONLY = parseFieldSelector('thingId');
/** Permission lookups at once (each may read a thing and a policy). */
const CHECK_PARALLELISM = 8;

export interface Provisioned {
  thingId: string;
  /** Whether this call created the thing. */
  thingCreated: boolean;
  /** Whether the device had no credentials before (else they were rotated). */
  credentialsCreated: boolean;
  /** The generated secret, shown this once. */
  secret?: string;
}

/**
 * Fleets in one call: creates the things that do not exist yet through the twins' write path as
 * the caller (so Ditto's default policy makes the caller their administrator), then sets each
 * device's credentials. Nothing is written unless the caller administers every existing thing;
 * the creation is all or nothing.
 */
@Injectable()
export class DeviceProvisioning {
  constructor(
    @Inject(TwinsService) private readonly twins: TwinsService,
    @Inject(TwinsQueryService) private readonly query: TwinsQueryService,
    @Inject(CheckPermissions) private readonly permissions: CheckPermissions,
    @Inject(DeviceCredentialsService) private readonly credentials: DeviceCredentialsService,
  ) {}

  async provision(auth: AuthContext, body: unknown): Promise<Provisioned[]> {
    const requests = parseProvisioning(body);
    DeviceCredentialsService.check(requests);
    const ids = requests.map((r) => r.thingId);
    // Without an AuthContext: which exist, whoever may see them (the checks below decide access).
    const existing = new Set((await this.query.getMany(ids, ID_ONLY)).map((t) => t.thingId as string));
    await this.requireAdminOfAll(
      auth,
      ids.filter((id) => existing.has(id)),
    );
    const missing = ids.filter((id) => !existing.has(id));
    if (missing.length > 0) {
      await this.twins.applyMany(
        missing.map((thingId) => ({ type: 'create', thingId, path: [], value: {}, origin: 'rest', auth })),
      );
      // A new thing may link a policy that existed already, which the caller need not administer.
      await this.requireAdminOfAll(auth, missing);
    }
    const set = await this.credentials.set(requests);
    return set.map((s) => ({
      thingId: s.thingId,
      thingCreated: !existing.has(s.thingId),
      credentialsCreated: s.created,
      ...(s.secret === undefined ? {} : { secret: s.secret }),
    }));
  }

  private async requireAdminOfAll(auth: AuthContext, ids: string[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) await requireAdmin(this.permissions, auth, ids[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(CHECK_PARALLELISM, ids.length) }, worker));
  }
}

export function parseProvisioning(body: unknown): CredentialsRequest[] {
  if (!isJsonObject(body) || !Array.isArray(body.things)) {
    throw DeviceErrors.provisionInvalid('The body must be a JSON object with an array "things".');
  }
  const things: unknown[] = body.things;
  if (things.length === 0 || things.length > MAX_PROVISION) {
    throw DeviceErrors.provisionInvalid(
      `"things" must hold 1 to ${MAX_PROVISION} entries, not ${things.length}.`,
    );
  }
  const seen = new Set<string>();
  return things.map((t, i) => {
    if (!isJsonObject(t) || typeof t.thingId !== 'string') {
      throw DeviceErrors.provisionInvalid(`things[${i}] must be an object with a string "thingId".`);
    }
    const extra = Object.keys(t).find((k) => k !== 'thingId' && k !== 'secret');
    if (extra !== undefined) {
      throw DeviceErrors.provisionInvalid(`things[${i}] has the unknown field '${extra.slice(0, 100)}'.`);
    }
    if (!isValidThingId(t.thingId)) {
      throw DeviceErrors.provisionInvalid(
        `things[${i}]: '${t.thingId.slice(0, 300)}' is not a valid thing id.`,
      );
    }
    if (seen.has(t.thingId))
      throw DeviceErrors.provisionInvalid(`things[${i}]: '${t.thingId}' is listed twice.`);
    seen.add(t.thingId);
    if (t.secret !== undefined && typeof t.secret !== 'string') {
      throw DeviceErrors.provisionInvalid(`things[${i}]: "secret" must be a string.`);
    }
    return { thingId: t.thingId, ...(typeof t.secret === 'string' ? { secret: t.secret } : {}) };
  });
}
