import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The user generated on first start when no authentication is configured: only its bcrypt hash
 * is stored, so the password printed once at that start stays valid across restarts and
 * replicas, and nobody can read it back from the database.
 */
export class AuthGeneratedUser1764190000000 implements MigrationInterface {
  name = 'AuthGeneratedUser1764190000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE auth_generated_users (
        username      text PRIMARY KEY,
        password_hash text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE auth_generated_users`);
  }
}
