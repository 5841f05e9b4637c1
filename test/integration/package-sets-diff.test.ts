// A repository's package set recorded by difference (recordRepositoryPackages) and the plan's trust in it
// (presentBlobs), on a real migrated database and a real pool directory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPool } from "../../core/db/client.js";
import { migrate } from "../../core/db/migrate.js";
import { recordRepositoryPackages, repositoryPackageShas, type PackageRecord } from "../../core/db/package-sets.js";
import { ensureRepository, type RepositoryRow } from "../../core/db/repositories.js";
import { inTransaction } from "../../core/db/transaction.js";
import type { RepositoryConfig } from "../../core/config/schema.js";
import { presentBlobs } from "../../core/mirror/pool-presence.js";
import { FilesystemBlobStore } from "../../core/storage/pool.js";
import { putBuffer } from "../../core/storage/put-buffer.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let tdb: TestDatabase;
let pool: pg.Pool;
let row: RepositoryRow;
beforeAll(async () => {
  tdb = await createTestDatabase("sets");
  pool = await connectPool(tdb.url, { max: 2 });
  await migrate(pool);
  row = await ensureRepository(pool, { id: "r1", type: "rpm", upstream_url: "http://127.0.0.1/r1/" } as RepositoryConfig);
});
afterAll(async () => {
  await pool.end();
  await tdb.drop();
});

const sha = (i: number) => i.toString(16).padStart(64, "0");
const pkg = (i: number, location = `Packages/p${i}.rpm`): PackageRecord & { location: string } => ({
  sha256: sha(i),
  size: i,
  type: "rpm",
  name: `p${i}`,
  epoch: 0,
  version: "1",
  release: "1",
  arch: "noarch",
  checksum: `sha256:${sha(i)}`,
  location,
});

async function record(items: (PackageRecord & { location: string })[]) {
  const client = await pool.connect();
  try {
    return await inTransaction(client, () => recordRepositoryPackages(client, row.id, items, (p) => p));
  } finally {
    client.release();
  }
}

async function setOf(): Promise<[string, string][]> {
  const r = await pool.query<{ location: string; sha256: string }>(
    `SELECT rp.location, p.sha256 FROM chantal.repository_packages rp JOIN chantal.packages p ON p.id = rp.package_id WHERE rp.repository_id = $1 ORDER BY 1`,
    [row.id],
  );
  return r.rows.map((x) => [x.location, x.sha256]);
}

describe("recordRepositoryPackages", () => {
  it("writes only the difference: new rows for new packages, the set's removals, replacements and additions", async () => {
    expect(await record([1, 2, 3, 4].map((i) => pkg(i)))).toEqual({ added: 4, removed: 0, changed: 0 });
    // A row the catalog has is never written again: its columns stay as they were, even if the item says otherwise.
    await pool.query(`UPDATE chantal.packages SET name = 'kept' WHERE sha256 = $1`, [sha(2)]);
    const change = await record([pkg(2), pkg(3), { ...pkg(5), location: "Packages/p4.rpm" }, pkg(6)]);
    // p1 left; p4's location now holds blob 5; p6 is new.
    expect(change).toEqual({ added: 1, removed: 1, changed: 1 });
    expect(await setOf()).toEqual([
      ["Packages/p2.rpm", sha(2)],
      ["Packages/p3.rpm", sha(3)],
      ["Packages/p4.rpm", sha(5)],
      ["Packages/p6.rpm", sha(6)],
    ]);
    expect((await pool.query(`SELECT name FROM chantal.packages WHERE sha256 = $1`, [sha(2)])).rows[0].name).toBe("kept");
    expect((await pool.query(`SELECT name, size FROM chantal.packages WHERE sha256 = $1`, [sha(6)])).rows[0]).toEqual({ name: "p6", size: "6" });
    // The same set again changes nothing.
    expect(await record([pkg(2), pkg(3), { ...pkg(5), location: "Packages/p4.rpm" }, pkg(6)])).toEqual({ added: 0, removed: 0, changed: 0 });
    expect(await repositoryPackageShas(pool, row.id)).toEqual(new Set([sha(2), sha(3), sha(5), sha(6)]));
  });
});

describe("presentBlobs (the plan by difference)", () => {
  it("takes the current set's blobs as present while the index checksum stands; asks the pool otherwise, and for everything with --full", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chantal-presence-"));
    try {
      const blobs = new FilesystemBlobStore(join(dir, "pool"), join(dir, "tmp"));
      // One blob really in the pool, not in the set; the set's blobs (2, 3, 5, 6) are not in this pool at all.
      const real = await putBuffer(blobs, Buffer.from("a blob"));
      const shas = [sha(2), sha(3), real.sha256, sha(99)];
      const synced = { ...row, indexChecksum: "sha256:abc" };
      expect(await presentBlobs({ db: pool, blobs, row: synced, force: false }, shas)).toEqual(new Set([sha(2), sha(3), real.sha256]));
      expect(await presentBlobs({ db: pool, blobs, row: { ...row, indexChecksum: null }, force: false }, shas)).toEqual(new Set([real.sha256]));
      expect(await presentBlobs({ db: pool, blobs, row: synced, force: true }, shas)).toEqual(new Set([real.sha256]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
