import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Device secrets for MQTT, as scrypt hashes (`scrypt$N$r$p$salt$hash`: salt and cost travel with
 * each hash, so the cost can be raised later without breaking stored ones). A rotation keeps the
 * previous hash until `previous_until`. The credentials go with their thing: deleting the thing
 * deletes them, so a later thing of the same id does not inherit a device's login.
 */
export class DeviceCredentials1764200000000 implements MigrationInterface {
  name = 'DeviceCredentials1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE device_credentials (
        thing_id       text PRIMARY KEY REFERENCES things (thing_id) ON DELETE CASCADE,
        secret_hash    text NOT NULL,
        previous_hash  text,
        previous_until timestamptz,
        created_at     timestamptz NOT NULL DEFAULT now(),
        rotated_at     timestamptz
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE device_credentials`);
  }
}
