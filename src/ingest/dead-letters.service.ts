import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { PeriodicTask } from '../common/periodic-task.js';
import { ConfigService } from '../config/config.service.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { parseThingId } from '../twins/model/thing-id.js';
import { IngestErrors } from './ingest.errors.js';
import { IngestStats } from './ingest-stats.js';
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
/** Pruning is cheap (indexed by age; the table is bounded by the size cap): once a minute. */
const PRUNE_EVERY_MS = 60_000;

/**
 * Reads the dead-letter table for operators (newest first, keyset-paged) and keeps it bounded:
 * letters older than DEAD_LETTER_RETENTION_DAYS go, then the oldest beyond DEAD_LETTER_MAX_BYTES.
 * Every replica prunes; the deletes are idempotent.
 */
@Injectable()
export class DeadLettersService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DeadLetters');
  private readonly pruner = new PeriodicTask('pruning dead letters', () => this.prune(), this.logger);

  constructor(
    @Inject(IngestRepository) private readonly repo: IngestRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(ConfigService) private readonly config: ConfigService,
    @Inject(IngestStats) private readonly stats: IngestStats,
  ) {}

  onApplicationBootstrap(): void {
    this.pruner.start(PRUNE_EVERY_MS);
  }

  onApplicationShutdown(): Promise<void> {
    return this.pruner.stop();
  }

  /** Deletes what the retention and the size cap no longer allow; returns how many went. */
  async prune(now = Date.now()): Promise<number> {
    const days = this.config.get('DEAD_LETTER_RETENTION_DAYS');
    // 0 days: kept until the size cap needs the room.
    const cutoff = days > 0 ? now - days * 86_400_000 : 0;
    const n = await this.repo.pruneDeadLetters(this.tx.db, cutoff, this.config.get('DEAD_LETTER_MAX_BYTES'));
    this.stats.deadLettersPruned += n;
    return n;
  }

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
