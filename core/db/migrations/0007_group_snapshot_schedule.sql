-- groups[].schedule: the scheduler records a fourth kind of job, "group-snapshot" (key 'group-snapshot:<group id>'),
-- run after the members' own scheduled syncs of the same fire time.
ALTER TABLE chantal.schedule_state DROP CONSTRAINT schedule_state_kind_check;
ALTER TABLE chantal.schedule_state ADD CONSTRAINT schedule_state_kind_check CHECK (kind IN ('sync', 'backup', 'pool-gc', 'group-snapshot'));
