import {
  DefaultFieldsOptions,
  DefaultMatchOptions,
  DefaultSearchOptions,
  DittoNodeClient,
  type DittoHttpClient,
  type RequestOptions,
  type RequestSender,
} from '@eclipse-ditto/ditto-javascript-client-node';
import { httpAuth } from './ditto-auth.js';
import { answerOf, rawSenders } from './ditto-client-internals.js';
import type { DittoSettings } from './ditto-settings.js';
import type { PolicyJson } from '../policies/model/policy.types.js';
import { policyBody } from './policy-ops.js';
import type { ThingJson, WireOp } from './sync-ops.js';

/** Why a call to Ditto failed, as the sync must react to it. */
export type DittoFailure =
  /** Ditto could not be reached at all: every thing waits, not just this one. */
  | { kind: 'unreachable'; message: string }
  /** 5xx, 429, 408, a timeout or an answer we cannot read: try this thing again later. */
  | { kind: 'retry'; status: number; message: string }
  /** A 4xx that repeating cannot fix; Ditto's error JSON as it answered. */
  | { kind: 'rejected'; status: number; error: string; message: string; description?: string };

export class DittoCallError extends Error {
  constructor(readonly failure: DittoFailure) {
    super(failure.message);
    this.name = 'DittoCallError';
  }
}

const PAGE = 200;

/**
 * Ditto's HTTP API through the official client. Its handles model things without
 * desiredProperties (Feature has definition and properties only), which would silently drop
 * data, so requests go through the client's own request sender with the JSON as we have it:
 * the client still builds the URLs, signs the requests and speaks HTTP.
 */
export class DittoGateway {
  private readonly client: DittoHttpClient;
  private readonly sender: RequestSender;
  private readonly policySender: RequestSender;

  constructor(private readonly settings: DittoSettings) {
    const tls = settings.tls
      ? DittoNodeClient.newHttpClient().withTls()
      : DittoNodeClient.newHttpClient().withoutTls();
    const located = settings.prefix ? tls.withCustomPath(`${settings.prefix}/api`) : tls;
    this.client = located.withDomain(settings.domain).withAuthProvider(httpAuth(settings)).build();
    const senders = rawSenders(this.client);
    this.sender = senders.things;
    this.policySender = senders.policies;
  }

  async send(op: WireOp, correlationId: string): Promise<void> {
    const options = DefaultMatchOptions.getInstance().addHeader('correlation-id', correlationId);
    if (op.verb === 'PATCH') options.addHeader('Content-Type', 'application/merge-patch+json');
    await this.call(this.sender, op.verb, op.thingId, op.path, options, op.body);
  }

  /**
   * Gives Ditto the whole policy. `createOnly` (If-None-Match: *) leaves a policy Ditto has
   * alone and answers false then.
   */
  async putPolicy(
    policyId: string,
    doc: PolicyJson,
    correlationId: string,
    createOnly = false,
  ): Promise<boolean> {
    const options = DefaultMatchOptions.getInstance().addHeader('correlation-id', correlationId);
    if (createOnly) options.addHeader('If-None-Match', '*');
    try {
      await this.call(this.policySender, 'PUT', policyId, [], options, policyBody(doc));
      return true;
    } catch (err) {
      if (createOnly && isRejected(err, 412)) return false;
      throw err;
    }
  }

  /** Deletes the policy in Ditto; one Ditto does not have counts as deleted. */
  async deletePolicy(policyId: string, correlationId: string): Promise<void> {
    const options = DefaultMatchOptions.getInstance().addHeader('correlation-id', correlationId);
    try {
      await this.call(this.policySender, 'DELETE', policyId, [], options);
    } catch (err) {
      if (!isRejected(err, 404)) throw err;
    }
  }

  /** The policy as Ditto has it; null when Ditto has none (or does not let the sync read it). */
  async getPolicy(policyId: string): Promise<unknown> {
    try {
      return await this.call(this.policySender, 'GET', policyId, [], DefaultMatchOptions.getInstance());
    } catch (err) {
      if (isRejected(err, 404)) return null;
      throw err;
    }
  }

  /** The whole thing as Ditto has it, with _revision and _modified; null when Ditto has none. */
  async getThing(thingId: string): Promise<ThingJson | null> {
    const options = DefaultFieldsOptions.getInstance().withFields(
      'thingId',
      'policyId',
      'definition',
      'attributes',
      'features',
      '_revision',
      '_modified',
    );
    try {
      return (await this.call(this.sender, 'GET', thingId, [], options)) as ThingJson;
    } catch (err) {
      if (isRejected(err, 404)) return null;
      throw err;
    }
  }

  /** Every thing in the namespaces (all namespaces when empty) with its policy, through Ditto's search. */
  async listThings(namespaces: string[]): Promise<{ thingId: string; policyId?: string }[]> {
    const things: { thingId: string; policyId?: string }[] = [];
    let cursor: string | undefined;
    do {
      let options = DefaultSearchOptions.getInstance()
        .withFields('thingId', 'policyId')
        .withSort('+thingId')
        .withPageSize(PAGE);
      if (namespaces.length > 0) options = options.withNamespaces(...namespaces);
      if (cursor) options = options.withCursor(cursor);
      const page = await this.guard(this.client.getSearchHandle().search(options));
      for (const item of page.items) things.push({ thingId: item.thingId, policyId: item.policyId });
      cursor = page.cursor;
    } while (cursor);
    return things;
  }

  private async call(
    sender: RequestSender,
    verb: string,
    thingId: string,
    path: string[],
    options: RequestOptions,
    body?: unknown,
  ): Promise<unknown> {
    const response = await this.guard(
      sender.fetchRequest({
        verb,
        id: encodeSegment(thingId),
        path: path.length > 0 ? path.map(encodeSegment).join('/') : undefined,
        requestOptions: options,
        payload: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return response.body;
  }

  /** Maps the client's rejections (Ditto's answer, an Error, or a bare string) onto failures. */
  private async guard<T>(call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    // The client passes its timeout to http.request, which only emits 'timeout' and never aborts.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new DittoCallError({ kind: 'retry', status: 0, message: 'Ditto did not answer in time' })),
        this.settings.timeoutMs,
      );
    });
    try {
      return await Promise.race([call, timeout]);
    } catch (err) {
      throw err instanceof DittoCallError ? err : new DittoCallError(classify(answerOf(err)));
    } finally {
      clearTimeout(timer);
    }
  }
}

function isRejected(err: unknown, status: number): boolean {
  return err instanceof DittoCallError && err.failure.kind === 'rejected' && err.failure.status === status;
}

export function classify(err: unknown): DittoFailure {
  if (err instanceof Error) return { kind: 'unreachable', message: err.message };
  const body = (err ?? {}) as Record<string, unknown>;
  const status = typeof body.status === 'number' ? body.status : 0;
  const message =
    typeof body.message === 'string'
      ? body.message
      : status > 0
        ? `Ditto answered HTTP ${status} without a message`
        : describe(err);
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return {
      kind: 'rejected',
      status,
      error: typeof body.error === 'string' ? body.error : 'unknown',
      message,
      description: typeof body.description === 'string' ? body.description : undefined,
    };
  }
  return { kind: 'retry', status, message };
}

function describe(err: unknown): string {
  if (typeof err === 'string') return err.slice(0, 300);
  try {
    return JSON.stringify(err).slice(0, 300);
  } catch {
    return String(err);
  }
}

/** Thing ids and path keys may hold characters URLs reserve; ':' stays readable as Ditto shows it. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%3A/gi, ':');
}
