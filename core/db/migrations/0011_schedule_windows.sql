-- scheduler.windows (maintenance windows): a schedule's queued run may wait for its window to open; `scheduler list`
-- shows it ("waiting for window") from any host. window_opens_at is NULL while waiting when no window opens within a year.
ALTER TABLE chantal.schedule_state ADD COLUMN window_waiting boolean NOT NULL DEFAULT false;
ALTER TABLE chantal.schedule_state ADD COLUMN window_opens_at timestamptz;
