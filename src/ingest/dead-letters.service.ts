import { Inject, Injectable } from '@nestjs/common';
import { TransactionRunner } from '../persistence/transaction.js';
import { parseThingId } from '../twins/model/thing-id.js';
import { IngestErrors } from './ingest.errors.js';
import { IngestRepository, type DeadLetterRow } from './ingest.repository.js';

export interface DeadLetterView {
  id: string;
  receivedAt: string;
  topic: string;
  reason: string;
  message: string;
  thingId: string | null;
  /** The raw payload: as text when it is UTF-8, else base64. */
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
}

export interface DeadLetterPage {
  items: DeadLetterView[];
  /** Present when there may be more: pass it as `cursor` for the next page. */
  cursor?: string;
}

const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads the dead-letter table for operators: newest first, keyset-paged. */
@Injectable()
export class DeadLettersService {
  constructor(
    @Inject(IngestRepository) private readonly repo: IngestRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
  ) {}

  async list(query: Record<string, unknown>): Promise<DeadLetterPage> {
    const limit = parseLimit(single(query, 'limit'));
    const cursor = single(query, 'cursor');
    const thingId = single(query, 'thingId');
    if (thingId !== undefined) {
      try {
        parseThingId(thingId);
      } catch {
        throw IngestErrors.queryInvalid(`thingId '${thingId}' is not a valid Thing ID.`);
      }
    }
    const beforeId = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.repo.listDeadLetters(this.tx.db, { limit: limit + 1, beforeId, thingId });
    const page = rows.slice(0, limit);
    const result: DeadLetterPage = { items: page.map(view) };
    if (rows.length > limit) result.cursor = Buffer.from(page[page.length - 1].id).toString('base64url');
    return result;
  }
}

function single(query: Record<string, unknown>, key: string): string | undefined {
  const v = query[key];
  if (v !== undefined && typeof v !== 'string')
    throw IngestErrors.queryInvalid(`'${key}' must be given once.`);
  return v;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  const n = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT))
    throw IngestErrors.queryInvalid(`limit '${text}' must be an integer from 1 to ${MAX_LIMIT}.`);
  return n;
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9]\d{0,17}$/.test(id))
    throw IngestErrors.queryInvalid('The cursor is invalid: pass the one the previous page returned.');
  return id;
}

function view(r: DeadLetterRow): DeadLetterView {
  let payload: string;
  let payloadEncoding: DeadLetterView['payloadEncoding'] = 'utf8';
  try {
    payload = utf8.decode(r.payload);
  } catch {
    payload = r.payload.toString('base64');
    payloadEncoding = 'base64';
  }
  return {
    id: r.id,
    receivedAt: r.receivedAt.toISOString(),
    topic: r.topic,
    reason: r.reason,
    message: r.message,
    thingId: r.thingId,
    payload,
    payloadEncoding,
  };
}
