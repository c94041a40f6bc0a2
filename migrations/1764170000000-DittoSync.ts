import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two-way sync with Eclipse Ditto. The cursor is the journal seq up to which every local change
 * has been delivered (or given up on), so a restart resumes there; synced_revision per thing
 * lets the resumed run skip what was delivered after the cursor, so nothing is sent twice.
 */
export class DittoSync1764170000000 implements MigrationInterface {
  name = 'DittoSync1764170000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ditto_sync_state (
        name       text PRIMARY KEY,
        cursor     bigint NOT NULL DEFAULT 0,
        status     jsonb,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // error: Ditto's answer to the last change it refused (null when the thing syncs fine).
    await q.query(`
      CREATE TABLE ditto_sync_things (
        thing_id        text PRIMARY KEY,
        synced_revision bigint NOT NULL,
        error           jsonb,
        error_at        timestamptz
      )`);
    await q.query(
      `CREATE INDEX ditto_sync_things_failing_idx ON ditto_sync_things (error_at) WHERE error IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ditto_sync_things`);
    await q.query(`DROP TABLE ditto_sync_state`);
  }
}
