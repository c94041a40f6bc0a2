import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * MQTT ingest: messages that broke the device contract (kept with their raw bytes so an
 * operator can see exactly what a device sent), and per-device presence, so the inactivity
 * timeout holds across restarts and across replicas that each see only part of the traffic.
 */
export class Ingest1764160000000 implements MigrationInterface {
  name = 'Ingest1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ingest_dead_letters (
        id          bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL,
        topic       text NOT NULL,
        reason      text NOT NULL,
        message     text NOT NULL,
        payload     bytea NOT NULL,
        thing_id    text
      )`);
    // Newest first per thing; the unfiltered listing walks the primary key backwards.
    await q.query(`CREATE INDEX ingest_dead_letters_thing_idx ON ingest_dead_letters (thing_id, id)`);

    // last_seen: when any message of the device last arrived (platform time, for the timeout);
    // state_at: the time of the message that set state, so an older one never overrides it.
    await q.query(`
      CREATE TABLE ingest_presence (
        thing_id  text PRIMARY KEY,
        last_seen timestamptz NOT NULL,
        state     text NOT NULL CHECK (state IN ('online', 'offline')),
        state_at  timestamptz NOT NULL
      )`);
    await q.query(
      `CREATE INDEX ingest_presence_online_idx ON ingest_presence (last_seen) WHERE state = 'online'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ingest_presence`);
    await q.query(`DROP TABLE ingest_dead_letters`);
  }
}
