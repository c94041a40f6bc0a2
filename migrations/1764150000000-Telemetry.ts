import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Device readings, one row per property value, partitioned by device time into UTC days so
 * retention drops whole tables instead of deleting rows. The app creates the daily partitions
 * (at boot and hourly, see TelemetryPartitionsService); the default partition catches readings
 * whose day has none, so no reading is ever refused for its timestamp.
 */
export class Telemetry1764150000000 implements MigrationInterface {
  name = 'Telemetry1764150000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE telemetry (
        thing_id    text NOT NULL,
        feature_id  text NOT NULL,
        path        text NOT NULL,
        ts          timestamptz NOT NULL,
        seq         bigint CHECK (seq >= 0),
        value       jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      ) PARTITION BY RANGE (ts)`);
    // The dedup key. A unique index on a partitioned table must contain the partition key (ts
    // is in it); NULL never equals NULL, so an absent seq takes part as -1, which no real seq
    // can be (CHECK above). Its leading columns (thing_id, feature_id, path, ts) also serve the
    // history queries, and the full key their (ts, seq) keyset order, so no second index is needed.
    await q.query(
      `CREATE UNIQUE INDEX telemetry_key ON telemetry (thing_id, feature_id, path, ts, (COALESCE(seq, -1)))`,
    );
    await q.query(`CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Drops every partition with it.
    await q.query(`DROP TABLE telemetry`);
  }
}
