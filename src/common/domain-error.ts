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
