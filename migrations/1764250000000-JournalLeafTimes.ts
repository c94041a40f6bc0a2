import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each journaled thing change records the source times it wrote, leaf by leaf (`{pointer: time}`,
 * only the changed leaves), so events can carry `_metadata` and a historical read rebuilds the
 * thing's `_metadata` at any revision by replaying. Snapshots keep the times of their state.
 *
 * Entries and snapshots written before this migration stay NULL: their leaves' times are unknown
 * (a historical read shows no time for a leaf last written before it). Adding a nullable column
 * without a default rewrites nothing, so it is instant on a large journal.
 */
export class JournalLeafTimes1764250000000 implements MigrationInterface {
  name = 'JournalLeafTimes1764250000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE journal ADD COLUMN leaf_times jsonb`);
    await q.query(`ALTER TABLE thing_snapshots ADD COLUMN leaf_times jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE thing_snapshots DROP COLUMN leaf_times`);
    await q.query(`ALTER TABLE journal DROP COLUMN leaf_times`);
  }
}
