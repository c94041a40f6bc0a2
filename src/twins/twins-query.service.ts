import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { Errors } from '../common/errors.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { selectFields } from './model/fields.js';
import { getAt, toPointer } from './model/json-pointer.js';
import { parseThingId } from './model/thing-id.js';
import { classifyPath, notFoundCodeFor } from './model/thing-validation.js';
import { checkPreconditions, entityTag } from './preconditions.js';
import { thingView, type FieldSelector } from './thing-view.js';
import type { Preconditions, StoredThing } from './twin.types.js';
import { TwinsRepository } from './twins.repository.js';

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
  ) {}

  async get(
    thingId: string,
    path: string[],
    fields?: FieldSelector,
    pre?: Preconditions,
  ): Promise<ReadResult> {
    parseThingId(thingId);
    if (path.length > 0) classifyPath(path);
    const thing = await this.repo.findOne(this.tx.db, thingId);
    if (!thing) {
      checkPreconditions({ exists: false }, pre, true);
      throw Errors.thingNotFound(thingId);
    }
    const value = path.length === 0 ? thingView(thing, fields) : getAt(thingView(thing), path);
    const etag = entityTag(thing.revision, path, value);
    checkPreconditions(
      { exists: value !== undefined, thingTag: entityTag(thing.revision, [], null), resourceTag: etag },
      pre,
      true,
    );
    if (value === undefined) throw notFoundAt(thingId, path);
    // Ditto applies `fields` to sub-resources as well when the value is an object.
    const selected = path.length > 0 && fields && isObject(value) ? selectSub(value, fields) : value;
    return { value: selected, etag, thing };
  }

  /** Things in the order of the ids asked for; unknown ids are left out, as Ditto does. */
  async getMany(thingIds: string[], fields?: FieldSelector): Promise<Record<string, unknown>[]> {
    for (const id of thingIds) parseThingId(id);
    const found = new Map((await this.repo.findMany(this.tx.db, thingIds)).map((t) => [t.thingId, t]));
    return thingIds.flatMap((id) => {
      const t = found.get(id);
      return t ? [thingView(t, fields)] : [];
    });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function selectSub(value: Record<string, unknown>, fields: FieldSelector): unknown {
  return selectFields(value, fields);
}

function notFoundAt(thingId: string, path: string[]): DomainError {
  const { kind } = classifyPath(path);
  return Errors.resourceNotFound(notFoundCodeFor(kind), thingId, `resource '${toPointer(path)}'`);
}
