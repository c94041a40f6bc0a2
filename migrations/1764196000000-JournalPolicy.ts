import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each thing change records the policy that governed the thing when it was written, so the push
 * can decide who sees an event without reading the thing again, and replays decide as they would
 * have live. Older entries take the policy their thing has now.
 *
 * Things that existed before policies were enforced name policies that do not exist, and nobody
 * could reach them; each such policy is created granting the default user `nginx:ditto` (the user
 * `npm start` generates a password for), who can then hand them on through the policies API.
 */
export class JournalPolicy1764196000000 implements MigrationInterface {
  name = 'JournalPolicy1764196000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE journal ADD COLUMN policy_id text`);
    await q.query(`
      UPDATE journal j SET policy_id = t.policy_id
      FROM things t WHERE j.entity = 'thing' AND j.thing_id = t.thing_id`);
    await q.query(`
      INSERT INTO policies (policy_id, namespace, doc, revision, created_at, modified_at)
      SELECT o.policy_id, split_part(o.policy_id, ':', 1),
             jsonb_build_object('policyId', o.policy_id, 'entries', jsonb_build_object('DEFAULT', jsonb_build_object(
               'subjects', jsonb_build_object('nginx:ditto', jsonb_build_object('type', 'generated')),
               'resources', jsonb_build_object(
                 'thing:/', jsonb_build_object('grant', jsonb_build_array('READ', 'WRITE'), 'revoke', jsonb_build_array()),
                 'policy:/', jsonb_build_object('grant', jsonb_build_array('READ', 'WRITE'), 'revoke', jsonb_build_array()),
                 'message:/', jsonb_build_object('grant', jsonb_build_array('READ', 'WRITE'), 'revoke', jsonb_build_array()))))),
             1, now(), now()
      FROM (SELECT DISTINCT policy_id FROM things) o
      WHERE NOT EXISTS (SELECT 1 FROM policies p WHERE p.policy_id = o.policy_id)`);
    await q.query(`
      INSERT INTO policy_readers (policy_id, subject, reads_some, reads_all, revokes_some)
      SELECT p.policy_id, 'nginx:ditto', true, true, false FROM policies p
      WHERE NOT EXISTS (SELECT 1 FROM policy_readers r WHERE r.policy_id = p.policy_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE journal DROP COLUMN policy_id`);
  }
}
