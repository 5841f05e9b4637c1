-- pool.gc.schedule: the scheduler records a third kind of job, "pool-gc", beside "sync" and "backup".
ALTER TABLE chantal.schedule_state DROP CONSTRAINT schedule_state_kind_check;
ALTER TABLE chantal.schedule_state ADD CONSTRAINT schedule_state_kind_check CHECK (kind IN ('sync', 'backup', 'pool-gc'));
