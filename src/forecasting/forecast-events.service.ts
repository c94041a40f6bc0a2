import { Inject, Injectable } from '@nestjs/common';
import type { AuthContext } from '../auth/auth-context.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { parseThingId } from '../twins/model/thing-id.js';
import { ForecastingErrors } from './forecasting.errors.js';
import { ForecastingRepository, type EventRow } from './forecasting.repository.js';
import { ForecastAccess } from './http/forecast-access.js';

const KINDS = [
  'trained',
  'promoted',
  'rejected',
  'pinned',
  'rollback',
  'drift',
  'fallback',
  'training_failed',
];

/** The MLOps events, each visible to whoever may read the forecast of its thing. */
@Injectable()
export class ForecastEvents {
  constructor(
    @Inject(ForecastingRepository) private readonly repo: ForecastingRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(ForecastAccess) private readonly access: ForecastAccess,
  ) {}

  async list(
    query: Record<string, unknown>,
    auth: AuthContext,
  ): Promise<{ items: EventRow[]; cursor?: string }> {
    const p = (k: string): string | undefined => {
      const v = query[k];
      if (v !== undefined && typeof v !== 'string')
        throw ForecastingErrors.queryInvalid(`The parameter '${k}' must be given once.`);
      return v;
    };
    const thingId = p('thingId');
    const kind = p('kind');
    const limitText = p('limit') ?? '100';
    const cursor = p('cursor');
    const limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= 1000))
      throw ForecastingErrors.queryInvalid(`The limit '${limitText}' must be 1 to 1000.`);
    if (kind !== undefined && !KINDS.includes(kind))
      throw ForecastingErrors.queryInvalid(
        `The kind '${kind.slice(0, 40)}' is unknown: use one of ${KINDS.join(', ')}.`,
      );
    if (cursor !== undefined && !/^\d{1,18}$/.test(cursor))
      throw ForecastingErrors.queryInvalid('The cursor is not one this server returned.');
    if (thingId !== undefined) {
      parseThingId(thingId);
      await this.access.read(auth, thingId);
    }
    const rows = await this.repo.events(this.tx.db, {
      thingIds: thingId === undefined ? null : [thingId],
      kind,
      before: cursor,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    // Without a thing, each event shows only to those who may read its thing's forecast.
    const readable = new Map<string, boolean>();
    const items: EventRow[] = [];
    for (const e of page) {
      if (thingId === undefined) {
        if (!readable.has(e.thingId)) readable.set(e.thingId, await this.access.mayRead(auth, e.thingId));
        if (!readable.get(e.thingId)) continue;
      }
      items.push(e);
    }
    return rows.length > limit ? { items, cursor: page[page.length - 1].id } : { items };
  }
}
