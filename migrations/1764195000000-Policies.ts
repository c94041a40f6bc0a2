import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Ditto policies as journaled entities beside things. policy_readers is the search pre-filter:
 * per policy and subject, whether it may read some or all of the things the policy governs; it
 * and policy_imports are rewritten in the transaction of every policy write. The journal now
 * carries policy changes too: `entity` tells them apart, and a policy id may equal a thing id.
 */
export class Policies1764195000000 implements MigrationInterface {
  name = 'Policies1764195000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE policies (
        policy_id   text PRIMARY KEY,
        namespace   text NOT NULL,
        doc         jsonb NOT NULL,
        revision    bigint NOT NULL,
        created_at  timestamptz NOT NULL,
        modified_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE policy_readers (
        policy_id    text NOT NULL REFERENCES policies (policy_id) ON DELETE CASCADE,
        subject      text NOT NULL,
        reads_some   boolean NOT NULL,
        reads_all    boolean NOT NULL,
        revokes_some boolean NOT NULL,
        PRIMARY KEY (policy_id, subject)
      )`);
    // Search asks "which policies let any of these subjects read": subject first.
    await q.query(`CREATE INDEX policy_readers_subject_idx ON policy_readers (subject, policy_id)`);
    // No foreign key to the imported policy: an import may name a policy not created yet.
    await q.query(`
      CREATE TABLE policy_imports (
        policy_id          text NOT NULL REFERENCES policies (policy_id) ON DELETE CASCADE,
        imported_policy_id text NOT NULL,
        PRIMARY KEY (policy_id, imported_policy_id)
      )`);
    await q.query(
      `CREATE INDEX policy_imports_imported_idx ON policy_imports (imported_policy_id, policy_id)`,
    );

    await q.query(
      `ALTER TABLE journal ADD COLUMN entity text NOT NULL DEFAULT 'thing' CHECK (entity IN ('thing', 'policy'))`,
    );
    await q.query(`ALTER TABLE journal DROP CONSTRAINT journal_thing_revision_uq`);
    await q.query(
      `ALTER TABLE journal ADD CONSTRAINT journal_entity_revision_uq UNIQUE (entity, thing_id, revision)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM journal WHERE entity = 'policy'`);
    await q.query(`ALTER TABLE journal DROP CONSTRAINT journal_entity_revision_uq`);
    await q.query(`ALTER TABLE journal ADD CONSTRAINT journal_thing_revision_uq UNIQUE (thing_id, revision)`);
    await q.query(`ALTER TABLE journal DROP COLUMN entity`);
    await q.query(`DROP TABLE policy_imports`);
    await q.query(`DROP TABLE policy_readers`);
    await q.query(`DROP TABLE policies`);
  }
}
