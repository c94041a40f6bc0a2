import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The forecasting registry (src/forecasting/): every trained model is a version per thing and
 * target, with its training window, the sha256 of its training series, holdout metrics, status
 * and the serialized model itself; at most one version is active per target. Events record the
 * MLOps loop (training, promotion, rollback, drift, fallback). Runs keep each issued forecast,
 * for evaluation against actuals and drift. Leases keep replicas from training one target twice.
 */
export class Forecasting1764241300000 implements MigrationInterface {
  name = 'Forecasting1764241300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE forecast_models (
        id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        thing_id         text NOT NULL,
        target           text NOT NULL,
        version          integer NOT NULL,
        algorithm        text NOT NULL,
        hyperparameters  jsonb NOT NULL,
        train_from       timestamptz NOT NULL,
        train_to         timestamptz NOT NULL,
        holdout_from     timestamptz NOT NULL,
        fingerprint      text NOT NULL,
        metrics          jsonb NOT NULL,
        baseline         jsonb NOT NULL,
        parts            jsonb NOT NULL DEFAULT '[]',
        status           text NOT NULL CHECK (status IN ('candidate', 'active', 'retired')),
        created_at       timestamptz NOT NULL DEFAULT now(),
        activated_at     timestamptz,
        rolling_mae      double precision,
        rolling_n        integer NOT NULL DEFAULT 0,
        checked_until    timestamptz,
        artefact         jsonb NOT NULL,
        UNIQUE (thing_id, target, version)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX forecast_models_one_active ON forecast_models (thing_id, target) WHERE status = 'active'`,
    );
    await q.query(`
      CREATE TABLE forecast_events (
        id          bigserial PRIMARY KEY,
        thing_id    text NOT NULL,
        target      text NOT NULL,
        model_id    uuid,
        kind        text NOT NULL,
        detail      jsonb NOT NULL DEFAULT '{}',
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX forecast_events_thing ON forecast_events (thing_id, id DESC)`);
    await q.query(`
      CREATE TABLE forecast_runs (
        id            bigserial PRIMARY KEY,
        thing_id      text NOT NULL,
        target        text NOT NULL,
        model_id      uuid,
        generated_at  timestamptz NOT NULL,
        first_ts      timestamptz NOT NULL,
        last_ts       timestamptz NOT NULL,
        fallback      boolean NOT NULL,
        points        jsonb NOT NULL
      )`);
    await q.query(`CREATE INDEX forecast_runs_target ON forecast_runs (thing_id, target, generated_at)`);
    await q.query(`
      CREATE TABLE forecast_leases (
        thing_id    text NOT NULL,
        target      text NOT NULL,
        holder      text NOT NULL,
        expires_at  timestamptz NOT NULL,
        PRIMARY KEY (thing_id, target)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE forecast_leases`);
    await q.query(`DROP TABLE forecast_runs`);
    await q.query(`DROP TABLE forecast_events`);
    await q.query(`DROP TABLE forecast_models`);
  }
}
