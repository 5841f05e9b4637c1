-- notify: (1) the scheduler records a fifth kind of job, "notify-digest" (notify.email.digest: the daily digest mail);
-- (2) notify_states holds the last freshness state notified per repository, so a state change is announced once
-- (the daemon compares what it computes now with this row), never again at every check or daemon start.
ALTER TABLE chantal.schedule_state DROP CONSTRAINT schedule_state_kind_check;
ALTER TABLE chantal.schedule_state ADD CONSTRAINT schedule_state_kind_check CHECK (kind IN ('sync', 'backup', 'pool-gc', 'group-snapshot', 'notify-digest'));

CREATE TABLE chantal.notify_states (
  subject     text PRIMARY KEY,
  state       text NOT NULL,
  changed_at  timestamptz NOT NULL DEFAULT now()
);
