/**
 * What a controller returns when status or headers depend on the outcome (201 vs 204, ETag,
 * Location). The interceptor applies it, so controllers never touch the response object and
 * filters stay in charge of errors.
 */
export class HttpAnswer {
  constructor(
    readonly status: number,
    /** undefined means no body; any other value (null included) is sent as JSON. */
    readonly body: unknown = undefined,
    readonly headers: Record<string, string> = {},
  ) {}

  static ok(body: unknown, headers: Record<string, string> = {}): HttpAnswer {
    return new HttpAnswer(200, body, headers);
  }
}
