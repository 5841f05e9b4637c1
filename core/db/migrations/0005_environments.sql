-- Lifecycle environments: repository groups frozen under one name, and the promotions of a group's snapshot
-- through the environments of the configuration (core/environments/). Groups and environments themselves are
-- configuration; the database keeps what was frozen and what was promoted, for history and rollback.

-- A group snapshot: every member's ordinary snapshot of the same name, made in one transaction.
CREATE TABLE chantal.group_snapshots (
  id           serial PRIMARY KEY,
  group_id     text NOT NULL,
  name         text NOT NULL,
  description  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (group_id, name)
);

CREATE TABLE chantal.group_snapshot_members (
  group_snapshot_id  integer NOT NULL REFERENCES chantal.group_snapshots(id) ON DELETE CASCADE,
  -- A member snapshot deleted with --force leaves the group snapshot incomplete: promote refuses it then.
  snapshot_id        integer NOT NULL REFERENCES chantal.snapshots(id) ON DELETE CASCADE,
  PRIMARY KEY (group_snapshot_id, snapshot_id)
);
CREATE INDEX group_snapshot_members_snapshot_idx ON chantal.group_snapshot_members (snapshot_id);

-- One row per switch of a group in an environment (a promotion or a rollback); the newest row of (group_id,
-- environment) is what the environment serves. Rows are history: they are never updated.
CREATE TABLE chantal.promotions (
  id                 bigserial PRIMARY KEY,
  group_id           text NOT NULL,
  environment        text NOT NULL,
  snapshot_name      text NOT NULL,
  -- 'promote' or 'rollback'.
  kind               text NOT NULL,
  -- The row whose state a rollback of this one returns to (NULL: nothing before it).
  previous_id        bigint REFERENCES chantal.promotions(id) ON DELETE SET NULL,
  forced             boolean NOT NULL DEFAULT false,
  host               text NOT NULL,
  pid                integer NOT NULL,
  os_user            text NOT NULL,
  note               text,
  promoted_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX promotions_group_environment_idx ON chantal.promotions (group_id, environment, id DESC);

-- The members as switched: the state of the environment for the group, complete in each row.
CREATE TABLE chantal.promotion_members (
  promotion_id   bigint NOT NULL REFERENCES chantal.promotions(id) ON DELETE CASCADE,
  repository_id  integer NOT NULL REFERENCES chantal.repositories(id) ON DELETE CASCADE,
  -- NULL once the snapshot is deleted (with --force): the name stays for the history.
  snapshot_id    integer REFERENCES chantal.snapshots(id) ON DELETE SET NULL,
  snapshot_name  text NOT NULL,
  PRIMARY KEY (promotion_id, repository_id)
);
CREATE INDEX promotion_members_snapshot_idx ON chantal.promotion_members (snapshot_id);
