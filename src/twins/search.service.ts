import { Inject, Injectable } from '@nestjs/common';
import { TransactionRunner } from '../persistence/transaction.js';
import {
  buildCountQuery,
  buildSearchQuery,
  parseNamespaces,
  parseRql,
  parseSearchOptions,
  toPage,
  type SearchQueryInput,
} from './search/index.js';
import { parseFields, thingView } from './thing-view.js';
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

/**
 * Ditto's thing search on the twins table itself: a write is visible to search as soon as it
 * has answered, unlike Ditto's separately updated index.
 */
@Injectable()
export class SearchService {
  constructor(
    @Inject(TwinsRepository) private readonly repo: TwinsRepository,
    @Inject(TransactionRunner) private readonly tx: TransactionRunner,
  ) {}

  async search(params: SearchParams): Promise<SearchResult> {
    const fields = parseFields(params.fields);
    const input: SearchQueryInput = {
      filter: params.filter ? parseRql(params.filter) : undefined,
      namespaces: parseNamespaces(params.namespaces),
      ...parseSearchOptions(params.option),
    };
    const rows = await this.repo.search(this.tx.db, buildSearchQuery(input));
    const page = toPage(rows, input);
    const result: SearchResult = { items: page.rows.map((r) => thingView(toStoredThing(r), fields)) };
    if (page.cursor !== undefined) result.cursor = page.cursor;
    if (page.nextPageOffset !== undefined) result.nextPageOffset = page.nextPageOffset;
    return result;
  }

  count(params: Pick<SearchParams, 'filter' | 'namespaces'>): Promise<number> {
    return this.repo.count(
      this.tx.db,
      buildCountQuery({
        filter: params.filter ? parseRql(params.filter) : undefined,
        namespaces: parseNamespaces(params.namespaces),
      }),
    );
  }
}
