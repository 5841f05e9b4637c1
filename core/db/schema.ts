// The typed definition of every table in schema chantal, used by the queries; test/integration/db-schema.test.ts proves it matches the migrations.
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  char,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  serial,
  smallint,
  sql,
  text,
  timestamp,
  unique,
  uuid,
} from "./drizzle.js";

export const chantal = pgSchema("chantal");

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** The migrator's own record (core/db/migrate.ts creates it before any migration). */
export const schemaMigrations = chantal.table("schema_migrations", {
  id: text("id").primaryKey(),
  appliedAt: ts("applied_at").notNull().defaultNow(),
});

// 0001_initial.sql
export const repositories = chantal.table("repositories", {
  id: serial("id").primaryKey(),
  repoId: text("repo_id").notNull().unique(),
  type: text("type").$type<"rpm" | "apt">().notNull(),
  upstreamUrl: text("upstream_url").notNull(),
  indexChecksum: text("index_checksum"),
  publishedChecksum: text("published_checksum"),
  lastSyncedAt: ts("last_synced_at"),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

export const packages = chantal.table(
  "packages",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    sha256: char("sha256", { length: 64 }).notNull().unique(),
    size: bigint("size", { mode: "number" }).notNull(),
    type: text("type").$type<"rpm" | "deb" | "dsc" | "file">().notNull(),
    name: text("name").notNull(),
    epoch: integer("epoch").notNull().default(0),
    version: text("version").notNull(),
    release: text("release").notNull().default(""),
    arch: text("arch").notNull(),
    checksum: text("checksum").notNull(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [index("packages_name_arch_idx").on(t.name, t.arch), index("packages_checksum_idx").on(t.checksum)],
);

export const repositoryPackages = chantal.table(
  "repository_packages",
  {
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    location: text("location").notNull(),
    packageId: bigint("package_id", { mode: "number" })
      .notNull()
      .references(() => packages.id),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.location] }), index("repository_packages_package_idx").on(t.packageId)],
);

export const metadataFiles = chantal.table("metadata_files", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  sha256: char("sha256", { length: 64 }).notNull().unique(),
  size: bigint("size", { mode: "number" }).notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const repositoryMetadata = chantal.table(
  "repository_metadata",
  {
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    path: text("path").notNull(),
    metadataFileId: bigint("metadata_file_id", { mode: "number" })
      .notNull()
      .references(() => metadataFiles.id),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.path] })],
);

export const snapshots = chantal.table(
  "snapshots",
  {
    id: serial("id").primaryKey(),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    packageCount: integer("package_count").notNull().default(0),
    totalSize: bigint("total_size", { mode: "number" }).notNull().default(0),
    createdAt: ts("created_at").notNull().defaultNow(),
    publishedAt: ts("published_at"),
  },
  (t) => [unique().on(t.repositoryId, t.name)],
);

export const snapshotPackages = chantal.table(
  "snapshot_packages",
  {
    snapshotId: integer("snapshot_id")
      .notNull()
      .references(() => snapshots.id, { onDelete: "cascade" }),
    location: text("location").notNull(),
    packageId: bigint("package_id", { mode: "number" })
      .notNull()
      .references(() => packages.id),
  },
  (t) => [primaryKey({ columns: [t.snapshotId, t.location] }), index("snapshot_packages_package_idx").on(t.packageId)],
);

export const snapshotMetadata = chantal.table(
  "snapshot_metadata",
  {
    snapshotId: integer("snapshot_id")
      .notNull()
      .references(() => snapshots.id, { onDelete: "cascade" }),
    path: text("path").notNull(),
    metadataFileId: bigint("metadata_file_id", { mode: "number" })
      .notNull()
      .references(() => metadataFiles.id),
  },
  (t) => [primaryKey({ columns: [t.snapshotId, t.path] })],
);

export type SyncTrigger = "manual" | "schedule" | "cloud";
export type SyncStatus = "running" | "success" | "noop" | "skipped-locked" | "failed" | "interrupted";

export const syncRuns = chantal.table(
  "sync_runs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    trigger: text("trigger").$type<SyncTrigger>().notNull(),
    host: text("host").notNull(),
    pid: integer("pid").notNull(),
    startedAt: ts("started_at").notNull().defaultNow(),
    finishedAt: ts("finished_at"),
    status: text("status").$type<SyncStatus>().notNull(),
    packagesTotal: integer("packages_total").notNull().default(0),
    packagesDownloaded: integer("packages_downloaded").notNull().default(0),
    packagesAdded: integer("packages_added").notNull().default(0),
    packagesRemoved: integer("packages_removed").notNull().default(0),
    bytesDownloaded: bigint("bytes_downloaded", { mode: "number" }).notNull().default(0),
    snapshotName: text("snapshot_name"),
    error: text("error"),
  },
  (t) => [index("sync_runs_repository_started_idx").on(t.repositoryId, t.startedAt.desc())],
);

export const lockHolders = chantal.table(
  "lock_holders",
  {
    lockClass: integer("lock_class").notNull(),
    lockKey: integer("lock_key").notNull(),
    backendPid: integer("backend_pid").notNull(),
    host: text("host").notNull(),
    pid: integer("pid").notNull(),
    purpose: text("purpose").notNull(),
    since: ts("since").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.lockClass, t.lockKey, t.backendPid] })],
);

// 0002_scheduler.sql
export const schedulerInstances = chantal.table(
  "scheduler_instances",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    host: text("host").notNull(),
    pid: integer("pid").notNull(),
    lockKey: integer("lock_key").notNull(),
    backendPid: integer("backend_pid").notNull(),
    version: text("version").notNull(),
    configDir: text("config_dir").notNull(),
    scheduleCount: integer("schedule_count").notNull().default(0),
    startedAt: ts("started_at").notNull().defaultNow(),
    heartbeatAt: ts("heartbeat_at").notNull().defaultNow(),
    stoppedAt: ts("stopped_at"),
    stopReason: text("stop_reason"),
  },
  (t) => [index("scheduler_instances_started_idx").on(t.startedAt.desc())],
);

export const scheduleState = chantal.table("schedule_state", {
  jobKey: text("job_key").primaryKey(),
  kind: text("kind").$type<"sync" | "backup" | "pool-gc" | "group-snapshot" | "notify-digest">().notNull(),
  target: text("target").notNull(),
  cron: text("cron").notNull(),
  timezone: text("timezone").notNull(),
  nextRunAt: ts("next_run_at"),
  lastFireAt: ts("last_fire_at"),
  lastStartedAt: ts("last_started_at"),
  lastFinishedAt: ts("last_finished_at"),
  lastStatus: text("last_status"),
  lastRunId: bigint("last_run_id", { mode: "number" }),
  lastError: text("last_error"),
  instanceId: bigint("instance_id", { mode: "number" }).references(() => schedulerInstances.id, { onDelete: "set null" }),
  updatedAt: ts("updated_at").notNull().defaultNow(),
  // 0011_schedule_windows.sql
  windowWaiting: boolean("window_waiting").notNull().default(false),
  windowOpensAt: ts("window_opens_at"),
});

// 0003_schedule_fires.sql
export const scheduleFires = chantal.table(
  "schedule_fires",
  {
    jobKey: text("job_key").notNull(),
    fireAt: ts("fire_at").notNull(),
    host: text("host").notNull(),
    pid: integer("pid").notNull(),
    lockKey: integer("lock_key").notNull(),
    backendPid: integer("backend_pid").notNull(),
    instanceId: bigint("instance_id", { mode: "number" }).references(() => schedulerInstances.id, { onDelete: "set null" }),
    attempt: smallint("attempt").notNull().default(1),
    takenOverFrom: text("taken_over_from"),
    claimedAt: ts("claimed_at").notNull().defaultNow(),
    status: text("status"),
    runId: bigint("run_id", { mode: "number" }),
    finishedAt: ts("finished_at"),
  },
  (t) => [primaryKey({ columns: [t.jobKey, t.fireAt] }), index("schedule_fires_open_idx").on(t.jobKey).where(sql`finished_at IS NULL`)],
);

// 0005_environments.sql
export const groupSnapshots = chantal.table(
  "group_snapshots",
  {
    id: serial("id").primaryKey(),
    groupId: text("group_id").notNull(),
    name: text("name").notNull(),
    description: text("description"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [unique().on(t.groupId, t.name)],
);

export const groupSnapshotMembers = chantal.table(
  "group_snapshot_members",
  {
    groupSnapshotId: integer("group_snapshot_id")
      .notNull()
      .references(() => groupSnapshots.id, { onDelete: "cascade" }),
    snapshotId: integer("snapshot_id")
      .notNull()
      .references(() => snapshots.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.groupSnapshotId, t.snapshotId] }), index("group_snapshot_members_snapshot_idx").on(t.snapshotId)],
);

export type PromotionKind = "promote" | "rollback";

export const promotions = chantal.table(
  "promotions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    groupId: text("group_id").notNull(),
    environment: text("environment").notNull(),
    snapshotName: text("snapshot_name").notNull(),
    kind: text("kind").$type<PromotionKind>().notNull(),
    previousId: bigint("previous_id", { mode: "number" }).references((): AnyPgColumn => promotions.id, { onDelete: "set null" }),
    forced: boolean("forced").notNull().default(false),
    host: text("host").notNull(),
    pid: integer("pid").notNull(),
    osUser: text("os_user").notNull(),
    note: text("note"),
    promotedAt: ts("promoted_at").notNull().defaultNow(),
  },
  (t) => [index("promotions_group_environment_idx").on(t.groupId, t.environment, t.id.desc())],
);

export const promotionMembers = chantal.table(
  "promotion_members",
  {
    promotionId: bigint("promotion_id", { mode: "number" })
      .notNull()
      .references(() => promotions.id, { onDelete: "cascade" }),
    repositoryId: integer("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    snapshotId: integer("snapshot_id").references(() => snapshots.id, { onDelete: "set null" }),
    snapshotName: text("snapshot_name").notNull(),
  },
  (t) => [primaryKey({ columns: [t.promotionId, t.repositoryId] }), index("promotion_members_snapshot_idx").on(t.snapshotId)],
);

// 0008_transfer.sql
export const instance = chantal.table("instance", {
  id: uuid("id").primaryKey().defaultRandom(),
  singleton: boolean("singleton").notNull().default(true).unique(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export type TransferKind = "full" | "delta";

export const exports = chantal.table("exports", {
  exportId: text("export_id").primaryKey(),
  kind: text("kind").$type<TransferKind>().notNull(),
  baseExportId: text("base_export_id").references((): AnyPgColumn => exports.exportId, { onDelete: "set null" }),
  selection: jsonb("selection").$type<Record<string, unknown>>().notNull(),
  path: text("path").notNull(),
  manifestSha256: char("manifest_sha256", { length: 64 }).notNull(),
  blobCount: integer("blob_count").notNull(),
  blobBytes: bigint("blob_bytes", { mode: "number" }).notNull(),
  volumeCount: integer("volume_count").notNull().default(0),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const exportBlobs = chantal.table(
  "export_blobs",
  {
    exportId: text("export_id")
      .notNull()
      .references(() => exports.exportId, { onDelete: "cascade" }),
    sha256: char("sha256", { length: 64 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.exportId, t.sha256] })],
);

export const imports = chantal.table("imports", {
  exportId: text("export_id").primaryKey(),
  sourceInstance: uuid("source_instance").notNull(),
  kind: text("kind").$type<TransferKind>().notNull(),
  baseExportId: text("base_export_id"),
  manifestSha256: char("manifest_sha256", { length: 64 }).notNull(),
  status: text("status").$type<"running" | "complete">().notNull(),
  blobCount: integer("blob_count").notNull(),
  blobBytes: bigint("blob_bytes", { mode: "number" }).notNull(),
  exportedAt: ts("exported_at").notNull(),
  startedAt: ts("started_at").notNull().defaultNow(),
  completedAt: ts("completed_at"),
  // 0010_import_owner.sql: the process that runs it (the last one, on a resume).
  host: text("host"),
  pid: integer("pid"),
});

// 0009_notify.sql
/** The last state notified per subject ("freshness:<repo_id>"): a change is announced once. */
export const notifyStates = chantal.table("notify_states", {
  subject: text("subject").primaryKey(),
  state: text("state").notNull(),
  changedAt: ts("changed_at").notNull().defaultNow(),
});
