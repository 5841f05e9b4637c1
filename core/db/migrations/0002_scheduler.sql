-- The local scheduler: one row per daemon start (heartbeat), and each schedule's last and next run.

-- A daemon is alive while its session holds the scheduler advisory lock (class 'CH'+5, key lock_key) as
-- backend_pid: status checks pg_locks, so it is right from any host even after a kill -9.
CREATE TABLE chantal.scheduler_instances (
  id              bigserial PRIMARY KEY,
  host            text NOT NULL,
  pid             integer NOT NULL,
  lock_key        integer NOT NULL,
  backend_pid     integer NOT NULL,
  version         text NOT NULL,
  config_dir      text NOT NULL,
  schedule_count  integer NOT NULL DEFAULT 0,
  started_at      timestamptz NOT NULL DEFAULT now(),
  heartbeat_at    timestamptz NOT NULL DEFAULT now(),
  stopped_at      timestamptz,
  stop_reason     text
);
CREATE INDEX scheduler_instances_started_idx ON chantal.scheduler_instances (started_at DESC);

-- One row per schedule ever planned; job_key is 'sync:<repo_id>' (a later 'backup' job needs no migration).
-- Times are the daemon's clock. next_run_at is NULL once the schedule is no longer configured.
CREATE TABLE chantal.schedule_state (
  job_key           text PRIMARY KEY,
  kind              text NOT NULL CHECK (kind IN ('sync', 'backup')),
  target            text NOT NULL,
  cron              text NOT NULL,
  timezone          text NOT NULL,
  next_run_at       timestamptz,
  -- The fire time last handled (run, dropped because still running, or caught up).
  last_fire_at      timestamptz,
  last_started_at   timestamptz,
  last_finished_at  timestamptz,
  last_status       text,
  last_run_id       bigint,
  last_error        text,
  instance_id       bigint REFERENCES chantal.scheduler_instances(id) ON DELETE SET NULL,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
