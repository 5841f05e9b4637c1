// A repository's package set recorded by difference (recordRepositoryPackages: staged, or against the set the plan
// read) and the plan's trust in it (presentBlobs), on a real migrated database and a real pool directory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPool } from "../../core/db/client.js";
import { migrate } from "../../core/db/migrate.js";
import { recordRepositoryPackages, repositoryPackageSet, type PackageRecord } from "../../core/db/package-sets.js";
import { ensureRepository, type RepositoryRow } from "../../core/db/repositories.js";
import { inTransaction } from "../../core/db/transaction.js";
import type { RepositoryConfig } from "../../core/config/schema.js";
import { presentBlobs, readPreviousSetAhead } from "../../core/mirror/pool-presence.js";
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

type Item = PackageRecord & { location: string };

/** Records `items` in one transaction of a new session; `staged`: whether the session made the staging table. */
async function recordIn(repositoryId: number, items: Item[], previous?: Map<string, string>) {
  const client = await pool.connect();
  try {
    const change = await inTransaction(client, () => recordRepositoryPackages(client, repositoryId, items, (p) => p, previous));
    const staged = (await client.query(`SELECT to_regclass('pg_temp.staged_files') IS NOT NULL AS made`)).rows[0].made as boolean;
    return { change, staged };
  } finally {
    // Its temporary table goes with the session: the next test's session starts without one.
    client.release(true);
  }
}

async function record(items: Item[]) {
  return (await recordIn(row.id, items)).change;
}

async function setOf(repositoryId = row.id): Promise<[string, string][]> {
  const r = await pool.query<{ location: string; sha256: string }>(
    `SELECT rp.location, p.sha256 FROM chantal.repository_packages rp JOIN chantal.packages p ON p.id = rp.package_id WHERE rp.repository_id = $1 ORDER BY 1`,
    [repositoryId],
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
    expect(new Set((await repositoryPackageSet(pool, row.id)).values())).toEqual(new Set([sha(2), sha(3), sha(5), sha(6)]));
  });
});

describe("recordRepositoryPackages against the set the plan read", () => {
  // Two repositories take the same sequence of sets: one staged (the reference), one by the difference from the set
  // read before each commit. Each step adds, removes, moves a location to another blob and repeats locations.
  const steps: { name: string; items: Item[] }[] = [
    { name: "the first set", items: [1, 2, 3, 4, 5].map((i) => pkg(i)) },
    { name: "2% grows: new packages only", items: [1, 2, 3, 4, 5, 6, 7].map((i) => pkg(i)) },
    { name: "removals and a location whose blob changed", items: [pkg(2), pkg(3), { ...pkg(8), location: "Packages/p4.rpm" }, pkg(7)] },
    {
      name: "a location listed twice (the last wins) and a blob at two locations",
      items: [pkg(2), pkg(9, "Packages/p2.rpm"), pkg(3), pkg(3, "Packages/copy.rpm")],
    },
    { name: "no change", items: [pkg(9, "Packages/p2.rpm"), pkg(3), pkg(3, "Packages/copy.rpm")] },
    { name: "everything replaced", items: [10, 11].map((i) => pkg(i)) },
    { name: "empty", items: [] },
    { name: "back again", items: [1, 2, 10].map((i) => pkg(i)) },
  ];
  let staged: RepositoryRow;
  let diffed: RepositoryRow;
  beforeAll(async () => {
    staged = await ensureRepository(pool, { id: "staged", type: "rpm", upstream_url: "http://127.0.0.1/staged/" } as RepositoryConfig);
    diffed = await ensureRepository(pool, { id: "diffed", type: "rpm", upstream_url: "http://127.0.0.1/diffed/" } as RepositoryConfig);
  });

  it.each(steps.map((s, i) => [i, s.name] as const))("step %i (%s): the same set and the same counts as the staged replace, without staging", async (i) => {
    // The steps build on each other: vitest runs them in order, on the two repositories' state the previous left.
    const { items } = steps[i]!;
    const reference = await recordIn(staged.id, items);
    const byDifference = await recordIn(diffed.id, items, await repositoryPackageSet(pool, diffed.id));
    expect(byDifference.change).toEqual(reference.change);
    expect(await setOf(diffed.id)).toEqual(await setOf(staged.id));
    expect(byDifference.staged).toBe(false);
    expect(reference.staged).toBe(true);
  });

  it("writes the catalog row of a package that enters the set, and leaves known rows as they are", async () => {
    const repo = await ensureRepository(pool, { id: "catalog", type: "rpm", upstream_url: "http://127.0.0.1/catalog/" } as RepositoryConfig);
    await recordIn(repo.id, [pkg(20)]);
    await pool.query(`UPDATE chantal.packages SET name = 'kept' WHERE sha256 = $1`, [sha(20)]);
    const { change } = await recordIn(repo.id, [{ ...pkg(20), name: "other" }, pkg(21)], await repositoryPackageSet(pool, repo.id));
    expect(change).toEqual({ added: 1, removed: 0, changed: 0 });
    const names = await pool.query(`SELECT sha256, name FROM chantal.packages WHERE sha256 = ANY($1::char(64)[]) ORDER BY 1`, [[sha(20), sha(21)]]);
    expect(names.rows).toEqual([
      { sha256: sha(20), name: "kept" },
      { sha256: sha(21), name: "p21" },
    ]);
  });

  it.each([
    ["a row of the items the set gained behind it", (set: Map<string, string>) => set.delete("Packages/p31.rpm")],
    ["a row the set lost behind it", (set: Map<string, string>) => set.set("Packages/gone.rpm", sha(39))],
    ["a location whose blob it has wrong", (set: Map<string, string>) => set.set("Packages/p32.rpm", sha(39))],
    ["a row it does not know of, which the items leave out", (set: Map<string, string>) => set.delete("Packages/p39.rpm")],
  ] as const)("a stale previous set (%s) falls back to the staged replace: the set is exactly the items", async (what, spoil) => {
    const repo = await ensureRepository(pool, {
      id: `stale-${what.split(" ").join("-")}`,
      type: "rpm",
      upstream_url: "http://127.0.0.1/stale/",
    } as RepositoryConfig);
    await recordIn(repo.id, [pkg(30), pkg(31), pkg(32), pkg(39, "Packages/p39.rpm")]);
    const previous = await repositoryPackageSet(pool, repo.id);
    spoil(previous);
    const items = [pkg(30), pkg(31), { ...pkg(33), location: "Packages/p32.rpm" }, pkg(34)];
    const result = await recordIn(repo.id, items, previous);
    expect(result.staged).toBe(true);
    expect(await setOf(repo.id)).toEqual([
      ["Packages/p30.rpm", sha(30)],
      ["Packages/p31.rpm", sha(31)],
      ["Packages/p32.rpm", sha(33)],
      ["Packages/p34.rpm", sha(34)],
    ]);
    expect(result.change).toEqual({ added: 1, removed: 1, changed: 1 });
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
      const ctx: Parameters<typeof presentBlobs>[0] = { db: pool, blobs, row: synced, force: false };
      expect(await presentBlobs(ctx, shas)).toEqual(new Set([sha(2), sha(3), real.sha256]));
      // The set it trusted is kept for the commit by difference.
      expect(ctx.previousSet).toEqual(await repositoryPackageSet(pool, row.id));

      // Read ahead (while primary is parsed): presentBlobs takes that read and does not ask again.
      const ahead: Parameters<typeof presentBlobs>[0] = { db: pool, blobs, row: synced, force: false };
      readPreviousSetAhead(ahead);
      const read = await ahead.previousSetRead!;
      await record([pkg(2), pkg(3), pkg(99)]);
      expect(await presentBlobs(ahead, shas)).toEqual(new Set([sha(2), sha(3), real.sha256]));
      expect(ahead.previousSet).toBe(read);
      await record([pkg(2), pkg(3), { ...pkg(5), location: "Packages/p4.rpm" }, pkg(6)]);
      // Nothing is read ahead when the plan will not trust the set.
      for (const untrusted of [{ ...row, indexChecksum: null }, synced]) {
        const c: Parameters<typeof presentBlobs>[0] = { db: pool, blobs, row: untrusted, force: untrusted === synced };
        readPreviousSetAhead(c);
        expect(c.previousSetRead).toBeUndefined();
      }
      expect(await presentBlobs({ db: pool, blobs, row: { ...row, indexChecksum: null }, force: false }, shas)).toEqual(new Set([real.sha256]));
      expect(await presentBlobs({ db: pool, blobs, row: synced, force: true }, shas)).toEqual(new Set([real.sha256]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
