// A synthetic Chantal database of any size, written with set-based SQL (seconds for 200,000 packages): for the backup
// benchmark and for tests that need a restore to take a while.
import type pg from "pg";

export interface SeedOptions {
  repositories: number;
  packages: number;
  snapshots: number;
  /** Fraction of its repository's packages each snapshot holds (1 = the full set, like a real snapshot). */
  snapshotShare?: number;
}

export async function seedDatabase(db: pg.Pool | pg.ClientBase, o: SeedOptions): Promise<void> {
  const share = o.snapshotShare ?? 1;
  // Only the rows made here are joined: the database may hold real ones already.
  const maxId = async (table: string) => Number((await db.query(`SELECT coalesce(max(id), 0) AS n FROM chantal.${table}`)).rows[0].n);
  const [pkg0, meta0, snap0] = [await maxId("packages"), await maxId("metadata_files"), await maxId("snapshots")];
  await db.query(
    `INSERT INTO chantal.repositories (repo_id, type, upstream_url, index_checksum, published_checksum, last_synced_at)
     SELECT 'seed' || i, 'rpm', 'http://127.0.0.1:9/seed' || i || '/', md5(i::text), md5(i::text), now() FROM generate_series(1, $1::int) i`,
    [o.repositories],
  );
  await db.query(
    `INSERT INTO chantal.packages (sha256, size, type, name, epoch, version, release, arch, checksum, metadata)
     SELECT encode(sha256(('pkg' || i)::bytea), 'hex'), 1000 + i % 50000, 'rpm', 'package-' || i, 0, '1.' || (i % 97), (i % 13) || '.el9', 'x86_64',
            'sha256:' || encode(sha256(('pkg' || i)::bytea), 'hex'), jsonb_build_object('summary', 'synthetic package ' || i, 'license', 'MIT')
     FROM generate_series(1, $1::int) i`,
    [o.packages],
  );
  await db.query(
    `INSERT INTO chantal.repository_packages (repository_id, location, package_id)
     SELECT r.id, 'Packages/' || substr(p.name, 9, 1) || '/' || p.name || '-1.0-1.x86_64.rpm', p.id
     FROM chantal.packages p JOIN chantal.repositories r ON r.repo_id = 'seed' || (1 + p.id % $1::int) WHERE p.id > $2`,
    [o.repositories, pkg0],
  );
  await db.query(
    `INSERT INTO chantal.metadata_files (sha256, size) SELECT encode(sha256(('meta' || i)::bytea), 'hex'), 4096 + i FROM generate_series(1, $1::int * 4) i`,
    [o.repositories],
  );
  await db.query(
    `INSERT INTO chantal.repository_metadata (repository_id, path, metadata_file_id)
     SELECT r.id, 'repodata/file' || (m.id % 4) || '-' || m.id || '.xml.gz', m.id FROM chantal.metadata_files m JOIN chantal.repositories r ON r.repo_id = 'seed' || (1 + m.id % $1::int) WHERE m.id > $2`,
    [o.repositories, meta0],
  );
  await db.query(
    `INSERT INTO chantal.snapshots (repository_id, name, package_count, total_size, published_at)
     SELECT r.id, 'snap-' || s, 0, 0, now() FROM generate_series(1, $2::int) s JOIN chantal.repositories r ON r.repo_id = 'seed' || (1 + s % $1::int)`,
    [o.repositories, o.snapshots],
  );
  await db.query(
    `INSERT INTO chantal.snapshot_packages (snapshot_id, location, package_id)
     SELECT s.id, rp.location, rp.package_id FROM chantal.snapshots s JOIN chantal.repository_packages rp ON rp.repository_id = s.repository_id
     WHERE s.id > $2 AND ($1::float8 >= 1 OR (rp.package_id % 1000) < $1::float8 * 1000)`,
    [share, snap0],
  );
  await db.query(
    `INSERT INTO chantal.snapshot_metadata (snapshot_id, path, metadata_file_id)
     SELECT s.id, rm.path, rm.metadata_file_id FROM chantal.snapshots s JOIN chantal.repository_metadata rm ON rm.repository_id = s.repository_id WHERE s.id > $1`,
    [snap0],
  );
  await db.query(
    `UPDATE chantal.snapshots s SET package_count = c.n FROM (SELECT snapshot_id, count(*)::int AS n FROM chantal.snapshot_packages WHERE snapshot_id > $1 GROUP BY 1) c WHERE c.snapshot_id = s.id`,
    [snap0],
  );
  await db.query(
    `INSERT INTO chantal.sync_runs (repository_id, trigger, host, pid, started_at, finished_at, status, packages_total)
     SELECT r.id, 'schedule', 'seed-host', 1, now() - (d || ' days')::interval, now() - (d || ' days')::interval + interval '1 minute', 'success', 1000
     FROM chantal.repositories r, generate_series(1, 30) d WHERE r.repo_id LIKE 'seed%'`,
  );
  await db.query("ANALYZE");
}
