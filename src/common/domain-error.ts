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
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  return new DomainError(
    500,
    'gateway:internalerror',
    'There was a rare case of an unexpected internal error.',
    'Please contact the service team, or try again later.',
  );
}
