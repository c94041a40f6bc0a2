import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Dead letters are pruned by age (DEAD_LETTER_RETENTION_DAYS): an index on received_at keeps that
 * cheap. The desired-state publisher records the journal seq up to which it has published, so
 * after a crash it replays only the changes since then (one row, shared by replicas).
 */
export class IngestBounds1764210000100 implements MigrationInterface {
  name = 'IngestBounds1764210000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX ingest_dead_letters_received_idx ON ingest_dead_letters (received_at)`);
    await q.query(`
      CREATE TABLE ingest_desired_cursor (
        id  boolean PRIMARY KEY DEFAULT true CHECK (id),
        seq bigint NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ingest_desired_cursor`);
    await q.query(`DROP INDEX ingest_dead_letters_received_idx`);
  }
}
