import pg from 'pg';
import { parseRql, parseSearchOptions, buildSearchQuery } from '../src/twins/search/index.js';

/**
 * `node dist/bench/explain-search.js <database url> [filter] [subject] [option]`: EXPLAIN (ANALYZE,
 * BUFFERS) of the search SQL the platform runs for `filter` (bench:api's building equality by
 * default) with `option` (e.g. `sort(-features/energy/properties/power),cursor(…)`) as `subject` reads it, and of its fallback (the ordered query), warm, on a database bench:api
 * seeded and kept (BENCH_KEEP=1). For the README's plans at each size.
 */
const [url, filter = 'eq(attributes/building,"B77")', subject = 'nginx:bench', option] =
  process.argv.slice(2);
if (!url) throw new Error('usage: explain-search.js <database url> [filter] [subject] [option]');
const query = buildSearchQuery({
  filter: parseRql(filter),
  readers: [subject],
  ...parseSearchOptions(option),
});
const client = new pg.Client({ connectionString: url });
await client.connect();
try {
  for (const [name, q] of [
    ['platform', query],
    ['ordered (the fallback, and the query before 2026-12-06)', query.fallback],
  ] as const) {
    if (!q) continue;
    for (let k = 0; k < 3; k++) await client.query(q.sql, q.params);
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`,
      q.params,
    );
    console.log(`\n${name}:\n${rows.map((r) => r['QUERY PLAN']).join('\n')}`);
  }
} finally {
  await client.end();
}
