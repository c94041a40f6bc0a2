/**
 * Every error a client can cause is a DomainError with one of Ditto's error codes.
 * Transports map it their own way: HTTP through DittoErrorFilter, the Ditto protocol
 * as a `things/twin/errors` envelope, MQTT as a dead letter.
 */
export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly description?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }

  toJSON(): DittoErrorBody {
    return {
      status: this.status,
      error: this.code,
      message: this.message,
      ...(this.description === undefined ? {} : { description: this.description }),
    };
  }
}

export interface DittoErrorBody {
  status: number;
  error: string;
  message: string;
  description?: string;
}

/**
 * Any failure as the DomainError a client sees: its own when it is one, else Ditto's internal
 * error, after `log` got the details (they never reach the client). Every transport shapes its
 * errors from this: the HTTP filter, SSE, the WebSocket protocol.
 */
export function toDomainError(err: unknown, log: (details: string) => void): DomainError {
  if (err instanceof DomainError) return err;
  if (databaseAway(err)) {
    return new DomainError(
      503,
      'gateway:service.unavailable',
      'The database is not reachable right now.',
      'Retry shortly; nothing was changed by this request.',
      { 'Retry-After': '1' },
    );
  }
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return new DomainError(
    500,
    'gateway:internalerror',
    'There was a rare case of an unexpected internal error.',
    'Please contact the service team, or try again later.',
  );
}

/** SQLSTATEs of a server shutting down or refusing connections, and the connection classes. */
const AWAY_SQLSTATES = new Set(['57P01', '57P02', '57P03']);
const AWAY_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND']);

/**
 * Whether a failure is the database being away (restarting, unreachable) rather than a fault of
 * the request or of this code: the client may simply retry, so it is a 503, not a 500.
 */
function databaseAway(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (AWAY_SQLSTATES.has(code) || code.startsWith('08') || AWAY_ERRNOS.has(code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  // node-postgres reports a dropped or refused connection without a code, and a pool this
  // replica has closed (it is stopping: a request still running, whose client has left and so
  // no longer holds up the drain) in words of its own.
  return (
    message.startsWith('Connection terminated') ||
    message === 'Cannot use a pool after calling end on the pool' ||
    message.includes('timeout exceeded when trying to connect') ||
    message === 'Client has encountered a connection error and is not queryable'
  );
}
