import { DomainError } from '../common/domain-error.js';
import { parseThingId } from '../twins/model/thing-id.js';
import { parseNamespaces, type RqlNode } from '../twins/search/index.js';
import { parseFields, type FieldSelector } from '../twins/thing-view.js';
import { parseEventFilter } from './event-filter.js';

/** What a WebSocket session or an SSE connection asked to receive. */
export interface StreamSpec {
  /** 'policy': the stream carries policy changes instead of thing changes. */
  entity?: 'policy';
  namespaces?: ReadonlySet<string>;
  thingIds?: ReadonlySet<string>;
  filter?: RqlNode;
  extraFields?: FieldSelector;
  /**
   * The parameters it was parsed from, normalised: specs with the same shape select and filter
   * every event alike (event-stream.ts shares renderings between them).
   */
  shape?: string;
}

export interface StreamParams {
  namespaces?: string;
  filter?: string;
  extraFields?: string;
  ids?: string;
}

/** Parses Ditto's streaming parameters; a bad one is the client's error, in Ditto's format. */
export function parseStreamSpec(
  params: StreamParams,
  parseId: (id: string) => unknown = parseThingId,
): StreamSpec {
  const spec: StreamSpec = {};
  const namespaces = parseNamespaces(emptyToUndefined(params.namespaces));
  if (namespaces) spec.namespaces = new Set(namespaces);
  const filter = emptyToUndefined(params.filter);
  if (filter !== undefined) spec.filter = parseEventFilter(filter);
  const extraFields = parseFields(params.extraFields);
  if (extraFields) spec.extraFields = extraFields;
  const ids = emptyToUndefined(params.ids);
  if (ids !== undefined) {
    const list = ids
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    for (const id of list) parseId(id);
    spec.thingIds = new Set(list);
  }
  spec.shape = JSON.stringify([
    spec.namespaces ? [...spec.namespaces].sort() : null,
    spec.thingIds ? [...spec.thingIds].sort() : null,
    filter ?? null,
    spec.extraFields ? (params.extraFields ?? null) : null,
  ]);
  return spec;
}

/** A journal seq as given back by a client (`from-event-id`, `Last-Event-ID`). */
export function parseEventId(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^(0|[1-9]\d{0,18})$/.test(value)) {
    throw new DomainError(
      400,
      'gateway:request.invalid',
      `The ${name} '${value}' is not an event id this server sent.`,
      'Give the event-id header (or SSE id) of the last event received.',
    );
  }
  return value;
}

function emptyToUndefined(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
