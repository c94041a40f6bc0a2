import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Twins live as one JSONB document each (the Thing as Ditto returns it, without system fields);
 * the system fields are columns so they sort and filter by index. The journal is the single
 * source every reactor (realtime push, sync, ingest acks) reads.
 */
export class InitialSchema1764140000000 implements MigrationInterface {
  name = 'InitialSchema1764140000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE things (
        thing_id    text PRIMARY KEY,
        namespace   text NOT NULL,
        policy_id   text NOT NULL,
        doc         jsonb NOT NULL,
        revision    bigint NOT NULL,
        created_at  timestamptz NOT NULL,
        modified_at timestamptz NOT NULL
      )`);
    // jsonb_path_ops serves containment (@>) and jsonpath (@?, @@) equality: RQL eq/in use it.
    await q.query(`CREATE INDEX things_doc_idx ON things USING gin (doc jsonb_path_ops)`);
    await q.query(`CREATE INDEX things_namespace_idx ON things (namespace, thing_id)`);
    await q.query(`CREATE INDEX things_modified_idx ON things (modified_at)`);
    await q.query(`CREATE INDEX things_created_idx ON things (created_at)`);

    // seq is taken from journal_seq while holding a transaction-scoped advisory lock, so
    // journal rows become visible in seq order and a reader that saw N never later finds < N.
    await q.query(`CREATE SEQUENCE journal_seq AS bigint`);
    await q.query(`
      CREATE TABLE journal (
        seq            bigint PRIMARY KEY,
        thing_id       text NOT NULL,
        revision       bigint NOT NULL,
        action         text NOT NULL CHECK (action IN ('created', 'modified', 'merged', 'deleted')),
        path           text NOT NULL,
        value          jsonb,
        ts             timestamptz NOT NULL,
        origin         text NOT NULL,
        correlation_id text,
        CONSTRAINT journal_thing_revision_uq UNIQUE (thing_id, revision)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE journal`);
    await q.query(`DROP SEQUENCE journal_seq`);
    await q.query(`DROP TABLE things`);
  }
}
