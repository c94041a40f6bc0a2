import { Inject, Injectable } from '@nestjs/common';
import { enforced, type AuthContext } from '../auth/auth-context.js';
import { Errors } from '../common/errors.js';
import { PoliciesService } from '../policies/policies.service.js';
import { TransactionRunner } from '../persistence/transaction.js';
import { getAt, isJsonObject } from './model/json-pointer.js';
import {
  buildCountQuery,
  buildPartialQuery,
  buildSearchQuery,
  matchesRql,
  parseNamespaces,
  parseRql,
  parseSearchOptions,
  runSearch,
  toPage,
  type SearchQueryInput,
  type SearchRow,
  type SortKey,
} from './search/index.js';
import { parseFields, selectsMetadata, thingView, type FieldSelector } from './thing-view.js';
import { toStoredThing, TwinsRepository } from './twins.repository.js';

/** The parameters of Ditto's search, as strings from a query or a form. */
export interface SearchParams {
  filter?: string;
  option?: string;
  fields?: string;
  namespaces?: string;
}

export interface SearchResult {
  items: Record<string, unknown>[];
  cursor?: string;
  nextPageOffset?: number;
}

/** A count checks at most this many partly readable things in memory; more is refused. */
const MAX_PARTIAL_COUNT = 10_000;

/**
 * Ditto's thing search on the twins table itself: a write is visible to search as soon as it
 * has answered, unlike Ditto's separately updated index.
 *
 * With an AuthContext, only things the subjects may read come back, cut to what they may read.
 * SQL decides for the things they read whole (the common case: their own things). A thing they
 * read only in part is checked again in memory against its readable part, so a filter or a sort
 * on a field they may not read never reveals it: such a thing is left out. A page can therefore
 * hold fewer items than its size while a cursor still leads on.
 */
@Injectable()
export class SearchService {
  constructor(
    @Inject(TwinsRepository) private readonly repo: TwinsRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
    @Inject(PoliciesService) private readonly policies: PoliciesService,
  ) {}

  async search(params: SearchParams, auth?: AuthContext): Promise<SearchResult> {
    auth = enforced(auth);
    const fields = parseFields(params.fields);
    const input: SearchQueryInput = {
      filter: params.filter ? parseRql(params.filter) : undefined,
      namespaces: parseNamespaces(params.namespaces),
      readers: auth?.subjects,
      metadata: selectsMetadata(fields),
      ...parseSearchOptions(params.option),
    };
    const rows = await runSearch(buildSearchQuery(input), (q) => this.repo.search(this.tx.bounded, q));
    const page = toPage(rows, input);
    const items: Record<string, unknown>[] = [];
    for (const row of page.rows) {
      const item = auth && !row.full_read ? await this.partView(row, input, fields, auth) : view(row, fields);
      if (item) items.push(item);
    }
    const result: SearchResult = { items };
    if (page.cursor !== undefined) result.cursor = page.cursor;
    if (page.nextPageOffset !== undefined) result.nextPageOffset = page.nextPageOffset;
    return result;
  }

  async count(params: Pick<SearchParams, 'filter' | 'namespaces'>, auth?: AuthContext): Promise<number> {
    auth = enforced(auth);
    const input = {
      filter: params.filter ? parseRql(params.filter) : undefined,
      namespaces: parseNamespaces(params.namespaces),
      readers: auth?.subjects,
    };
    const whole = await this.repo.count(this.tx.bounded, buildCountQuery(input));
    if (!auth) return whole;
    const partial = await this.repo.search(
      this.tx.bounded,
      buildPartialQuery({ ...input, readers: auth.subjects, metadata: false }, MAX_PARTIAL_COUNT + 1),
    );
    if (partial.length > MAX_PARTIAL_COUNT) {
      throw Errors.searchOptionInvalid(
        `The count would check more than ${MAX_PARTIAL_COUNT} things you may read only in part; narrow the filter or the namespaces.`,
      );
    }
    let visible = 0;
    for (const row of partial)
      if (await this.partView(row, { ...input, sort: [] }, undefined, auth)) visible++;
    return whole + visible;
  }

  /** A thing the subjects read in part: its readable view, if the filter and sort hold on it. */
  private async partView(
    row: SearchRow,
    input: Pick<SearchQueryInput, 'filter' | 'sort'>,
    fields: FieldSelector | undefined,
    auth: AuthContext,
  ): Promise<Record<string, unknown> | undefined> {
    const thing = toStoredThing(row);
    const enforcer = await this.policies.enforcerFor(thing.doc.policyId, thing.namespace);
    if (!enforcer) return undefined;
    const subjects = auth.subjects;
    const whole = thingView(thing, ALL_FIELDS);
    const doc = enforcer.readable('thing', [], whole, subjects);
    if (!isJsonObject(doc)) return undefined;
    if (input.filter && !matchesRql(input.filter, { doc })) return undefined;
    if (!input.sort.every((key) => sortReadable(key, whole, doc))) return undefined;
    const visible = enforcer.readable('thing', [], thingView(thing, fields), subjects);
    return isJsonObject(visible) ? visible : undefined;
  }
}

const ALL_FIELDS = parseFields(
  'thingId,policyId,definition,attributes,features,_namespace,_revision,_created,_modified',
);

function view(row: SearchRow, fields: FieldSelector | undefined): Record<string, unknown> {
  return thingView(toStoredThing(row), fields);
}

/** Sorting by a field the subjects may not read would order by what they cannot see. */
function sortReadable(
  key: SortKey,
  whole: Record<string, unknown>,
  readable: Record<string, unknown>,
): boolean {
  if (key.field.kind !== 'doc') return true;
  return getAt(whole, key.field.path) === undefined || getAt(readable, key.field.path) !== undefined;
}
