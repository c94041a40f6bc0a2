import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Per-leaf source timestamps, so late device readings never overwrite newer values. */
export class ThingMetadata1764140100000 implements MigrationInterface {
  name = 'ThingMetadata1764140100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE things ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE things DROP COLUMN metadata`);
  }
}
