-- One row per fire of a schedule: (job_key, nominal fire time before jitter) is claimed by exactly one scheduler
-- daemon, so that any number of daemons may share the database and each fire runs once (core/db/schedule-fires.ts).

-- The claimant is alive while its session (backend_pid, connected before claimed_at) holds the scheduler advisory
-- lock (class 'CH'+5, key lock_key), as for chantal.scheduler_instances. An unfinished claim whose claimant is gone
-- is taken over once (attempt 2) by another daemon while it is still the schedule's latest fire.
CREATE TABLE chantal.schedule_fires (
  job_key          text NOT NULL,
  -- The daemon's clock (nominal cron time); claimed_at and finished_at are the database's clock.
  fire_at          timestamptz NOT NULL,
  host             text NOT NULL,
  pid              integer NOT NULL,
  lock_key         integer NOT NULL,
  backend_pid      integer NOT NULL,
  instance_id      bigint REFERENCES chantal.scheduler_instances(id) ON DELETE SET NULL,
  -- 1 for the first claim, 2 after a takeover; never more, so a fire that kills its daemon cannot kill them all.
  attempt          smallint NOT NULL DEFAULT 1,
  taken_over_from  text,
  claimed_at       timestamptz NOT NULL DEFAULT now(),
  -- The run's outcome; 'skipped' when the schedule's previous fire was still running on a live daemon.
  status           text,
  run_id           bigint,
  -- NULL while the run goes on, and after a shutdown aborted it ('interrupted'): then it can be taken over.
  finished_at      timestamptz,
  PRIMARY KEY (job_key, fire_at)
);
CREATE INDEX schedule_fires_open_idx ON chantal.schedule_fires (job_key) WHERE finished_at IS NULL;
