import { Inject, Injectable } from '@nestjs/common';
import { enforced, type AuthContext } from '../auth/auth-context.js';
import { DomainError } from '../common/domain-error.js';
import { Errors } from '../common/errors.js';
import { PoliciesService } from '../policies/policies.service.js';
import { ConfigService } from '../config/config.service.js';
import { coalescedReads, type CoalescedReads } from '../persistence/coalesced-reads.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { selectFields } from './model/fields.js';
import { getAt, toPointer, isJsonObject } from './model/json-pointer.js';
import { parseThingId } from './model/thing-id.js';
import { classifyPath, notFoundCodeFor } from './model/thing-validation.js';
import { checkPreconditions, entityTag } from './preconditions.js';
import { selectsMetadata, thingView, type FieldSelector } from './thing-view.js';
import { readableOr404 } from './twin-access.js';
import type { Preconditions, StoredThing } from './twin.types.js';
import { TwinsRepository } from './twins.repository.js';

/** Ids in one statement at most: the array parameter and the answer stay small. */
const READ_BATCH_MAX = 100;

export interface ReadResult {
  value: unknown;
  etag: string;
  thing: StoredThing;
}

/** Reads of twins: one thing or a sub-resource, several by id. Search lives in SearchService. */
@Injectable()
export class TwinsQueryService {
  constructor(
    @Inject(TwinsRepository) private readonly repo: TwinsRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(PoliciesService) private readonly policies: PoliciesService,
    @Inject(ConfigService) config: ConfigService,
  ) {
    const options = { concurrency: config.get('THING_READ_STATEMENTS'), maxBatch: READ_BATCH_MAX };
    this.byId = [true, false].map((metadata) =>
      coalescedReads(
        async (ids: readonly string[]) =>
          new Map((await this.repo.findMany(this.tx.db, ids, { metadata })).map((t) => [t.thingId, t])),
        options,
      ),
    );
  }

  /**
   * Reads by id, with and without the metadata column ([0] with): under load the GETs of many
   * clients share statements (coalescedReads; bench:api measures it).
   */
  private readonly byId: CoalescedReads<string, StoredThing>[];

  /**
   * `auth` is who reads: the answer holds only what the thing's policy lets them read, and a thing
   * they may read nothing of is not found. Without `auth` (the platform itself) everything is read.
   */
  async get(
    thingId: string,
    path: string[],
    fields?: FieldSelector,
    pre?: Preconditions,
    auth?: AuthContext,
  ): Promise<ReadResult> {
    parseThingId(thingId);
    if (path.length > 0) classifyPath(path);
    auth = enforced(auth);
    const thing = await this.byId[selectsMetadata(fields) ? 0 : 1].load(thingId);
    if (!thing) {
      checkPreconditions({ exists: false }, pre, true);
      throw Errors.thingNotFound(thingId);
    }
    return this.answer(thing, path, fields, pre, auth);
  }

  /**
   * The read of `thing` (current or rebuilt from history) at `path`, cut to what `auth` may read
   * by the policy `policyId` (the thing's own by default) as it is now. `auth` must already be
   * the enforced context.
   */
  async answer(
    thing: StoredThing,
    path: string[],
    fields: FieldSelector | undefined,
    pre: Preconditions | undefined,
    auth: AuthContext | undefined,
    policyId = thing.doc.policyId,
  ): Promise<ReadResult> {
    const thingId = thing.thingId;
    const full = path.length === 0 ? thingView(thing, fields) : getAt(thingView(thing), path);
    const value = auth ? await this.visible(thing, path, full, auth, policyId) : full;
    const etag = entityTag(thing.revision, path, full);
    checkPreconditions(
      { exists: value !== undefined, thingTag: entityTag(thing.revision, [], null), resourceTag: etag },
      pre,
      true,
    );
    if (value === undefined) throw notFoundAt(thingId, path);
    // Ditto applies `fields` to sub-resources as well when the value is an object.
    const selected = path.length > 0 && fields && isJsonObject(value) ? selectSub(value, fields) : value;
    return { value: selected, etag, thing };
  }

  /** Things in the order of the ids asked for; unknown and unreadable ids are left out, as Ditto does. */
  async getMany(
    thingIds: string[],
    fields?: FieldSelector,
    auth?: AuthContext,
  ): Promise<Record<string, unknown>[]> {
    for (const id of thingIds) parseThingId(id);
    auth = enforced(auth);
    const found = new Map((await this.repo.findMany(this.tx.db, thingIds)).map((t) => [t.thingId, t]));
    const views: Record<string, unknown>[] = [];
    for (const id of thingIds) {
      const t = found.get(id);
      if (!t) continue;
      const view = thingView(t, fields);
      if (!auth) {
        views.push(view);
        continue;
      }
      const enforcer = await this.policies.enforcerFor(t.doc.policyId, t.namespace);
      const visible = enforcer?.readable('thing', [], view, auth.subjects);
      if (isJsonObject(visible)) views.push(visible);
    }
    return views;
  }

  /** Thing id and path leak nothing: an unreadable value answers as if it did not exist. */
  private async visible(
    thing: StoredThing,
    path: string[],
    value: unknown,
    auth: AuthContext,
    policyId: string,
  ): Promise<unknown> {
    const enforcer = await this.policies.enforcerFor(policyId, thing.namespace);
    if (value === undefined) {
      // Missing: still 404 the thing itself for those who may not see it at all.
      readableOr404(thing.thingId, [], {}, enforcer, auth, () => notFoundAt(thing.thingId, path));
      return undefined;
    }
    return readableOr404(thing.thingId, path, value, enforcer, auth, () => notFoundAt(thing.thingId, path));
  }
}

function selectSub(value: Record<string, unknown>, fields: FieldSelector): unknown {
  return selectFields(value, fields);
}

function notFoundAt(thingId: string, path: string[]): DomainError {
  const { kind } = classifyPath(path);
  return Errors.resourceNotFound(notFoundCodeFor(kind), thingId, `resource '${toPointer(path)}'`);
}
