import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { enforced, type AuthContext } from '../auth/auth-context.js';
import { Errors } from '../common/errors.js';
import { parsePolicyId } from '../twins/model/thing-id.js';
import { parseResourceKey } from './model/resource-key.js';
import { PERMISSIONS } from './model/policy.types.js';
import { PoliciesService } from './policies.service.js';
import type { Permission, PolicyEnforcer } from './policy-enforcer.js';
import { THING_POLICY_LOOKUP, type ThingPolicyLookup } from './thing-policy-lookup.js';

const MAX_CHECKS = 100;

interface Check {
  type: 'thing' | 'policy' | 'message';
  path: string[];
  entityId: string;
  perms: Permission[];
}

/**
 * `POST /api/2/checkPermissions`: for each named check, whether the requester has every listed
 * permission, unrestricted, on the resource of the entity (a thing id for `thing:` and `message:`
 * resources, a policy id for `policy:`). An entity that does not exist answers false.
 */
@Injectable()
export class CheckPermissions {
  private lookup?: ThingPolicyLookup | null;

  constructor(
    @Inject(PoliciesService) private readonly policies: PoliciesService,
    @Inject(ModuleRef) private readonly modules: ModuleRef,
  ) {}

  async check(auth: AuthContext, body: unknown): Promise<Record<string, boolean>> {
    const checks = parse(body);
    const enforcers = new Map<string, Promise<PolicyEnforcer | null>>();
    const enforcerOf = (c: Check): Promise<PolicyEnforcer | null> => {
      const k = `${c.type === 'policy' ? 'p' : 't'}:${c.entityId}`;
      let e = enforcers.get(k);
      if (!e) {
        e = this.resolve(c);
        enforcers.set(k, e);
      }
      return e;
    };
    const out: Record<string, boolean> = {};
    for (const [name, c] of checks) {
      const e = await enforcerOf(c);
      const ok = e !== null && c.perms.every((p) => e.hasUnrestricted(c.type, c.path, auth.subjects, p));
      Object.defineProperty(out, name, { value: ok, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /**
   * Whether `auth` may read the whole resource at `path` of a thing (unrestricted READ), for
   * features that serve data derived from a thing (its telemetry history). False for a thing that
   * does not exist; true for a context policies are not enforced for.
   */
  async mayReadThing(auth: AuthContext, thingId: string, path: readonly string[]): Promise<boolean> {
    const subject = enforced(auth);
    if (!subject) return true;
    const e = await this.resolve({ type: 'thing', path: [...path], entityId: thingId, perms: ['READ'] });
    return e !== null && e.hasUnrestricted('thing', path, subject.subjects, 'READ');
  }

  /**
   * Whether `auth` administers a thing in Ditto's sense: unrestricted WRITE on `policy:/` of the
   * thing's policy (who may change who may do what may also hand out the thing's device
   * credentials). 'invisible' when the thing does not exist or `auth` cannot read any of it
   * (answer 404 then), 'denied' when it can read the thing but not administer it (403).
   */
  async administersThing(auth: AuthContext, thingId: string): Promise<'granted' | 'denied' | 'invisible'> {
    const e = await this.resolve({ type: 'thing', path: [], entityId: thingId, perms: ['WRITE'] });
    if (e === null) return 'invisible';
    const subject = enforced(auth);
    if (!subject || e.hasUnrestricted('policy', [], subject.subjects, 'WRITE')) return 'granted';
    return e.hasPartial('thing', [], subject.subjects, 'READ') ? 'denied' : 'invisible';
  }

  /**
   * The compiled policy governing a thing (for `message:` resources, which live in the thing's
   * policy); null when the thing does not exist or its policy is gone.
   */
  thingEnforcer(thingId: string): Promise<PolicyEnforcer | null> {
    return this.resolve({ type: 'thing', path: [], entityId: thingId, perms: [] });
  }

  private async resolve(c: Check): Promise<PolicyEnforcer | null> {
    if (c.type === 'policy') {
      const { namespace } = parsePolicyId(c.entityId);
      return this.policies.enforcerFor(c.entityId, namespace);
    }
    const target = await this.thingLookup()?.policyIdOf(c.entityId);
    return target ? this.policies.enforcerFor(target.policyId, target.namespace) : null;
  }

  /** Provided by the twins feature in its own module: found across modules, once. */
  private thingLookup(): ThingPolicyLookup | null {
    if (this.lookup === undefined) {
      try {
        this.lookup = this.modules.get<ThingPolicyLookup>(THING_POLICY_LOOKUP, { strict: false });
      } catch {
        return null;
      }
    }
    return this.lookup;
  }
}

function parse(body: unknown): [string, Check][] {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw Errors.jsonInvalid('The permission check request must be a JSON object.');
  const entries = Object.entries(body);
  if (entries.length > MAX_CHECKS) throw Errors.jsonInvalid(`At most ${MAX_CHECKS} checks per request.`);
  return entries.map(([name, raw]) => {
    const r = raw as { resource?: unknown; entityId?: unknown; hasPermissions?: unknown } | null;
    if (
      typeof r !== 'object' ||
      r === null ||
      typeof r.resource !== 'string' ||
      typeof r.entityId !== 'string' ||
      !Array.isArray(r.hasPermissions) ||
      r.hasPermissions.length === 0 ||
      r.hasPermissions.some((p) => !PERMISSIONS.includes(p as Permission))
    )
      throw Errors.jsonInvalid(
        `The check '${name.slice(0, 100)}' must have 'resource', 'entityId' and 'hasPermissions' (READ, WRITE, EXECUTE).`,
      );
    const { type, path } = parseResourceKey(r.resource);
    return [name, { type, path, entityId: r.entityId, perms: r.hasPermissions as Permission[] }];
  });
}
