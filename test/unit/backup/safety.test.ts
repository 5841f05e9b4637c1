// Tests of core/backup/safety.ts.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { BackupInvalidError, dumpByteLimit, parseManifest, type Manifest } from "../../../core/backup/manifest.js";
import { dumpChecker } from "../../../core/backup/verify.js";
import { backupFileName, dateFromBackupName, isArchiveName } from "../../../core/backup/naming.js";
import { memberProblem } from "../../../core/backup/safety.js";
import { DUMP_END, orderByDependencies } from "../../../core/backup/dump.js";

describe("memberProblem", () => {
  it.each([
    ["manifest.json", "File", null],
    ["config/conf.d/10-epel.yaml", "File", null],
    ["config/", "Directory", null],
    ["./database.sql.gz", "File", null],
    ["/etc/passwd", "File", "has an absolute path"],
    ["C:/x", "File", "has an absolute path"],
    ["../evil", "File", "has a '..' path segment"],
    ["config/../../evil", "File", "has a '..' path segment"],
    ["config/..", "Directory", "has a '..' path segment"],
    ["config/link", "SymbolicLink", "is a link"],
    ["config/hard", "Link", "is a link"],
    ["dev/null", "CharacterDevice", "is a device"],
    ["dev/sda", "BlockDevice", "is a device"],
    ["fifo", "FIFO", "is a FIFO"],
    ["x", "GNUDumpDir", "has the unsupported type GNUDumpDir"],
    ["", "File", "has an empty or NUL-containing path"],
  ])("%s (%s) -> %s", (path, type, expected) => {
    expect(memberProblem(path, type)).toBe(expected);
  });
});

describe("backup names", () => {
  it("are UTC timestamps that parse back", () => {
    const d = new Date("2024-05-01T03:30:07.250Z");
    expect(backupFileName(d, true)).toBe("chantal-backup-20240501-033007.tar.gz");
    expect(backupFileName(d, false)).toBe("chantal-backup-20240501-033007.tar");
    expect(dateFromBackupName("chantal-backup-20240501-033007.tar.gz")?.toISOString()).toBe("2024-05-01T03:30:07.000Z");
    expect(dateFromBackupName("other.tar.gz")).toBeNull();
  });
  it.each([
    ["chantal-backup-20240501-033007.tar.gz", true],
    ["mine.tar", true],
    ["mine.tgz", true],
    [".chantal-backup-20240501-033007.tar.gz.partial", false],
    ["notes.txt", false],
  ])("isArchiveName(%s) = %s", (name, expected) => {
    expect(isArchiveName(name)).toBe(expected);
  });
});

const good: Manifest = {
  backup_version: 1,
  chantal_version: "0.1.0",
  database_version: "0002_b",
  database_migrations: ["0001_a", "0002_b"],
  created_at: "2024-05-01T03:30:07.000Z",
  hostname: "h",
  repositories_count: 1,
  packages_count: 2,
  snapshots_count: 0,
  tables: { packages: 2 },
  includes_config: true,
  compression: "gzip",
  database_file: "database.sql.gz",
  database_size_bytes: 10,
  config_files: ["config.yaml"],
  members: { "database.sql.gz": { sha256: "a".repeat(64), size: 10 }, "config/config.yaml": { sha256: "b".repeat(64), size: 3 } },
};

describe("parseManifest", () => {
  it("accepts a consistent manifest, of version 1 and 2", () => {
    expect(parseManifest(JSON.stringify(good))).toEqual(good);
    const v2 = { ...good, backup_version: 2, database_uncompressed_bytes: 4000 };
    expect(parseManifest(JSON.stringify(v2))).toEqual(v2);
  });
  it.each<[string, Record<string, unknown>, RegExp]>([
    ["not JSON", {}, /not valid JSON/],
    ["a newer format", { backup_version: 3 }, /backup_version 3; this Chantal reads up to 2: upgrade Chantal/],
    ["version 2 without the dump's decompressed size", { backup_version: 2 }, /database_uncompressed_bytes is missing/],
    [
      "an uncompressed dump whose two sizes differ",
      { compression: "none", database_file: "database.sql", database_uncompressed_bytes: 11, members: { ...good.members } },
      /./,
    ],
    ["a missing digest", { members: { "database.sql.gz": good.members["database.sql.gz"] } }, /no sha256 for member config\/config.yaml/],
    ["an unlisted member", { members: { ...good.members, x: { sha256: "c".repeat(64), size: 1 } } }, /unexpected member x/],
    ["a size mismatch", { database_size_bytes: 11 }, /database_size_bytes differs/],
    [
      "a bad digest",
      { members: { ...good.members, "database.sql.gz": { sha256: "xyz", size: 10 } } },
      /members.database.sql.gz.sha256: must be a lowercase sha256/,
    ],
    ["compression vs file", { compression: "none" }, /compression none does not match database.sql.gz/],
    ["version vs migrations", { database_version: "0001_a" }, /not the last of database_migrations/],
  ])("refuses %s", (title, patch, message) => {
    const text = title === "not JSON" ? "{nope" : JSON.stringify({ ...good, ...patch });
    expect(() => parseManifest(text)).toThrow(BackupInvalidError);
    expect(() => parseManifest(text)).toThrow(message);
  });
});

describe("orderByDependencies", () => {
  it("puts referenced tables first", () => {
    const order = orderByDependencies(
      ["snapshot_packages", "packages", "snapshots", "repositories"],
      [
        { child: "snapshot_packages", parent: "snapshots" },
        { child: "snapshot_packages", parent: "packages" },
        { child: "snapshots", parent: "repositories" },
      ],
    );
    expect(order.indexOf("repositories")).toBeLessThan(order.indexOf("snapshots"));
    expect(order.indexOf("snapshots")).toBeLessThan(order.indexOf("snapshot_packages"));
    expect(order.indexOf("packages")).toBeLessThan(order.indexOf("snapshot_packages"));
  });
  it("refuses a cycle", () => {
    expect(() =>
      orderByDependencies(
        ["a", "b"],
        [
          { child: "a", parent: "b" },
          { child: "b", parent: "a" },
        ],
      ),
    ).toThrow(/cycle/);
  });
});

describe("dumpByteLimit", () => {
  const v2 = { ...good, backup_version: 2, database_uncompressed_bytes: 5000 } as Manifest;
  it.each<[string, Manifest | undefined, number, boolean, number]>([
    ["the declared size of a version 2 manifest", v2, 10, true, 5000],
    ["a version 1 gzip dump: 64 times its size plus 64 MiB", good, 1000, true, 64_000 + 64 * 1024 * 1024],
    ["a plain dump: its own size", { ...good, compression: "none" } as Manifest, 1234, false, 1234],
    ["no manifest (not reached): the ratio on the member's size", undefined, 10, true, 640 + 64 * 1024 * 1024],
  ])("%s", (_label, manifest, stored, gzip, expected) => {
    expect(dumpByteLimit(manifest, stored, gzip)).toBe(expected);
  });
});

describe("dumpChecker", () => {
  it("stops decompressing a bomb at the limit and reports it; a dump of the declared size passes", async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x0a));
    const checker = dumpChecker(true, { maxBytes: 1024 * 1024 });
    await pipeline(Readable.from([bomb]), checker.sink);
    expect(await checker.result()).toMatchObject({
      ok: false,
      label: "database dump size",
      detail: expect.stringMatching(/more than 1048576 bytes: a decompression bomb/),
    });
    const text = Buffer.from(`-- x\n${DUMP_END}\n`);
    const fine = dumpChecker(true, { maxBytes: text.length, declared: text.length });
    await pipeline(Readable.from([gzipSync(text)]), fine.sink);
    expect(await fine.result()).toMatchObject({ ok: true });
    const short = dumpChecker(true, { maxBytes: text.length + 5, declared: text.length + 5 });
    await pipeline(Readable.from([gzipSync(text)]), short.sink);
    expect(await short.result()).toMatchObject({ ok: false, detail: expect.stringMatching(/decompresses to \d+ bytes, the manifest says/) });
  });
});
