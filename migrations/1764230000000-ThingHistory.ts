import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Historical reads (`at-historical-revision`) rebuild a thing by replaying its journal rows; a
 * snapshot of the state every THING_SNAPSHOT_EVERY revisions bounds that replay. Snapshots are
 * written by historical reads (never by the write path, which must stay a handful of statements
 * per batch), and never change: journal rows are immutable, so the state at a revision is too.
 * doc is NULL when the thing did not exist at that revision (deleted). The journal's unique
 * (entity, thing_id, revision) index already serves the per-thing revision lookups.
 */
export class ThingHistory1764230000000 implements MigrationInterface {
  name = 'ThingHistory1764230000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE thing_snapshots (
        thing_id    text NOT NULL,
        revision    bigint NOT NULL,
        doc         jsonb,
        created_at  timestamptz,
        modified_at timestamptz NOT NULL,
        PRIMARY KEY (thing_id, revision)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE thing_snapshots`);
  }
}
