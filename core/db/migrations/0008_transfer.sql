-- Air-gap transfer (core/transfer/): this installation's identity, the bundles it exported (and which blobs each
-- one references, so that a later delta leaves them out), and the bundles it imported (so that a delta can name the
-- base it needs, and a second import of the same bundle changes nothing).

-- One row: the id that names this installation in every bundle it exports. A restored backup keeps it: a restore
-- is the same installation.
CREATE TABLE chantal.instance (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  singleton   boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
  created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO chantal.instance DEFAULT VALUES;

CREATE TABLE chantal.exports (
  -- "<yyyymmddThhmmssZ>-<8 hex>": sortable, unique across installations with the instance id beside it.
  export_id        text PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('full', 'delta')),
  -- The export a delta's receiver must have imported (NULL: a full export, or a delta against --have / a snapshot).
  base_export_id   text REFERENCES chantal.exports(export_id) ON DELETE SET NULL,
  -- What was exported, as the manifest's "selection" object.
  selection        jsonb NOT NULL,
  -- Where it was written (informative: media move).
  path             text NOT NULL,
  manifest_sha256  char(64) NOT NULL,
  blob_count       integer NOT NULL,
  blob_bytes       bigint NOT NULL,
  volume_count     integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- Every blob an export references (included or expected at the receiver): after importing it, the receiver has them all.
CREATE TABLE chantal.export_blobs (
  export_id  text NOT NULL REFERENCES chantal.exports(export_id) ON DELETE CASCADE,
  sha256     char(64) NOT NULL,
  PRIMARY KEY (export_id, sha256)
);

CREATE TABLE chantal.imports (
  export_id          text PRIMARY KEY,
  -- The exporting installation (manifest instance_id).
  source_instance    uuid NOT NULL,
  kind               text NOT NULL CHECK (kind IN ('full', 'delta')),
  base_export_id     text,
  manifest_sha256    char(64) NOT NULL,
  -- 'running' until every snapshot of the bundle is in; a killed import resumes from the blobs already pooled.
  status             text NOT NULL CHECK (status IN ('running', 'complete')),
  blob_count         integer NOT NULL,
  blob_bytes         bigint NOT NULL,
  exported_at        timestamptz NOT NULL,
  started_at         timestamptz NOT NULL DEFAULT now(),
  completed_at       timestamptz
);
