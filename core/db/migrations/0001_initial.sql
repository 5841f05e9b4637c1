-- Chantal's initial schema. Everything lives in the "chantal" schema (created by the migrator).

CREATE TABLE chantal.repositories (
  id              serial PRIMARY KEY,
  repo_id         text NOT NULL UNIQUE,
  type            text NOT NULL CHECK (type IN ('rpm', 'apt')),
  upstream_url    text NOT NULL,
  index_checksum  text,
  -- The index_checksum of the tree under <published>/<repo_id>/latest, to republish after a failed publish.
  published_checksum  text,
  last_synced_at  timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per pooled blob (a package file); the blob lives at pool/<aa>/<bb>/<sha256>.
CREATE TABLE chantal.packages (
  id          bigserial PRIMARY KEY,
  sha256      char(64) NOT NULL UNIQUE,
  size        bigint NOT NULL,
  type        text NOT NULL CHECK (type IN ('rpm', 'deb', 'dsc', 'file')),
  name        text NOT NULL,
  epoch       integer NOT NULL DEFAULT 0,
  version     text NOT NULL,
  release     text NOT NULL DEFAULT '',
  arch        text NOT NULL,
  -- The checksum upstream declared (type:value), to find the blob again when it is not a sha256.
  checksum    text NOT NULL,
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX packages_name_arch_idx ON chantal.packages (name, arch);
CREATE INDEX packages_checksum_idx ON chantal.packages (checksum);

-- The repository's current package set, at upstream-relative locations.
CREATE TABLE chantal.repository_packages (
  repository_id  integer NOT NULL REFERENCES chantal.repositories(id) ON DELETE CASCADE,
  location       text NOT NULL,
  package_id     bigint NOT NULL REFERENCES chantal.packages(id),
  PRIMARY KEY (repository_id, location)
);
CREATE INDEX repository_packages_package_idx ON chantal.repository_packages (package_id);

-- Upstream index files kept verbatim (repomd.xml, primary.xml.gz, InRelease, ...), pooled by sha256.
CREATE TABLE chantal.metadata_files (
  id          bigserial PRIMARY KEY,
  sha256      char(64) NOT NULL UNIQUE,
  size        bigint NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chantal.repository_metadata (
  repository_id     integer NOT NULL REFERENCES chantal.repositories(id) ON DELETE CASCADE,
  path              text NOT NULL,
  metadata_file_id  bigint NOT NULL REFERENCES chantal.metadata_files(id),
  PRIMARY KEY (repository_id, path)
);

CREATE TABLE chantal.snapshots (
  id             serial PRIMARY KEY,
  repository_id  integer NOT NULL REFERENCES chantal.repositories(id) ON DELETE CASCADE,
  name           text NOT NULL,
  description    text,
  package_count  integer NOT NULL DEFAULT 0,
  total_size     bigint NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  published_at   timestamptz,
  UNIQUE (repository_id, name)
);

CREATE TABLE chantal.snapshot_packages (
  snapshot_id  integer NOT NULL REFERENCES chantal.snapshots(id) ON DELETE CASCADE,
  location     text NOT NULL,
  package_id   bigint NOT NULL REFERENCES chantal.packages(id),
  PRIMARY KEY (snapshot_id, location)
);
CREATE INDEX snapshot_packages_package_idx ON chantal.snapshot_packages (package_id);

CREATE TABLE chantal.snapshot_metadata (
  snapshot_id       integer NOT NULL REFERENCES chantal.snapshots(id) ON DELETE CASCADE,
  path              text NOT NULL,
  metadata_file_id  bigint NOT NULL REFERENCES chantal.metadata_files(id),
  PRIMARY KEY (snapshot_id, path)
);

CREATE TABLE chantal.sync_runs (
  id                   bigserial PRIMARY KEY,
  repository_id        integer NOT NULL REFERENCES chantal.repositories(id) ON DELETE CASCADE,
  trigger              text NOT NULL CHECK (trigger IN ('manual', 'schedule', 'cloud')),
  host                 text NOT NULL,
  pid                  integer NOT NULL,
  started_at           timestamptz NOT NULL DEFAULT now(),
  finished_at          timestamptz,
  status               text NOT NULL CHECK (status IN ('running', 'success', 'noop', 'skipped-locked', 'failed', 'interrupted')),
  packages_total       integer NOT NULL DEFAULT 0,
  packages_downloaded  integer NOT NULL DEFAULT 0,
  packages_added       integer NOT NULL DEFAULT 0,
  packages_removed     integer NOT NULL DEFAULT 0,
  bytes_downloaded     bigint NOT NULL DEFAULT 0,
  snapshot_name        text,
  error                text
);
CREATE INDEX sync_runs_repository_started_idx ON chantal.sync_runs (repository_id, started_at DESC);

-- Who holds an advisory lock: written by the holder right after it takes the lock, checked against pg_locks.
CREATE TABLE chantal.lock_holders (
  lock_class   integer NOT NULL,
  lock_key     integer NOT NULL,
  backend_pid  integer NOT NULL,
  host         text NOT NULL,
  pid          integer NOT NULL,
  purpose      text NOT NULL,
  since        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (lock_class, lock_key, backend_pid)
);
