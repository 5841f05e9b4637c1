// Tests of core/backup/archive.ts.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { listBackups } from "../../../core/backup/list.js";
import { LocalStore } from "../../../core/backup/store.js";
import { verifyBackup } from "../../../core/backup/verify.js";
import { rawTar, validEntries, validMembers, type RawEntry } from "./craft-archive.js";

const dir = mkdtempSync(join(tmpdir(), "chantal-archive-test-"));
const store = new LocalStore(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function write(data: Buffer, ext = ".tar"): string {
  const name = `a${++n}${ext}`;
  writeFileSync(join(dir, name), data);
  return name;
}

async function failures(data: Buffer, ext?: string): Promise<string[]> {
  const r = await verifyBackup(store, write(data, ext));
  return r.checks.filter((c) => !c.ok).map((c) => `${c.label}: ${c.detail ?? ""}`);
}

describe("verifyBackup on hand-made archives", () => {
  it("accepts a valid archive, plain or gzip-wrapped", async () => {
    expect(await failures(rawTar(validEntries()))).toEqual([]);
    expect(await failures(gzipSync(rawTar(validEntries())), ".tar.gz")).toEqual([]);
    const r = await verifyBackup(store, write(rawTar(validEntries())));
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.label)).toEqual([
      "archive is a readable tar",
      "manifest.json present and valid",
      "database.sql.gz sha256",
      "config/config.yaml sha256",
      "database dump decompresses and is complete",
      "configuration present",
    ]);
  });

  it("refuses a tampered member (same size, one byte changed)", async () => {
    const entries = validEntries();
    const config = Buffer.from(entries[2]!.data!);
    config[0] = config[0]! ^ 1;
    entries[2] = { ...entries[2]!, data: config };
    const f = await failures(rawTar(entries));
    expect(f).toHaveLength(1);
    expect(f[0]).toMatch(/^config\/config.yaml sha256: is [0-9a-f]{64} \(\d+ bytes\), the manifest says [0-9a-f]{64} .*: the member was modified$/);
  });

  it("refuses a truncated archive", async () => {
    const whole = gzipSync(rawTar(validEntries()));
    const f = await failures(whole.subarray(0, whole.length - 40), ".tar.gz");
    expect(f[0]).toMatch(/^archive is a readable tar: .*(unexpected end|Truncated)/);
    const plain = rawTar(validEntries());
    const g = await failures(plain.subarray(0, 700));
    expect(g[0]).toMatch(/^archive is a readable tar: .*Truncated input/);
  });

  it("refuses an archive without manifest", async () => {
    const f = await failures(rawTar(validEntries().slice(1)));
    expect(f).toEqual(["manifest.json present: the archive has no manifest.json: not a Chantal backup"]);
  });

  it("refuses a dump that does not end with its final COMMIT", async () => {
    const m = validMembers({ dump: "BEGIN; -- chantal-dump begin\nCREATE SCHEMA chantal;\n" });
    const f = await failures(rawTar(validEntries(m)));
    expect(f).toEqual(["database dump is complete: it does not end with the dump's final COMMIT (truncated when written?)"]);
  });

  it("refuses a member the manifest does not list", async () => {
    const f = await failures(rawTar([...validEntries(), { path: "config/extra.yaml", data: "x: 1\n" }]));
    expect(f).toEqual(["no members beyond the manifest: unexpected: config/extra.yaml"]);
  });

  it.each<[string, RawEntry, RegExp]>([
    [
      "a path-traversal member",
      { path: "config/../../etc/cron.d/evil", data: "x" },
      /archive member "config\/..\/..\/etc\/cron.d\/evil" has a '..' path segment: refused/,
    ],
    ["an absolute path", { path: "/etc/cron.d/evil", data: "x" }, /archive member "\/etc\/cron.d\/evil" has an absolute path: refused/],
    ["a symlink", { path: "config/passwd", type: "SymbolicLink", linkpath: "/etc/passwd" }, /archive member "config\/passwd" is a link: refused/],
    ["a hard link", { path: "config/hard", type: "Link", linkpath: "manifest.json" }, /archive member "config\/hard" is a link: refused/],
    ["a device", { path: "config/null", type: "CharacterDevice" }, /archive member "config\/null" is a device: refused/],
    ["a duplicate member", { path: "manifest.json", data: "{}" }, /archive member "manifest.json" appears twice: refused/],
  ])("refuses %s", async (_t, bad, message) => {
    const entries = validEntries();
    const f = await failures(rawTar([entries[0]!, bad, ...entries.slice(1)]));
    expect(f[0]).toMatch(message);
  });

  it("lists an unreadable archive as invalid instead of hiding it", async () => {
    const listDir = mkdtempSync(join(tmpdir(), "chantal-list-test-"));
    try {
      writeFileSync(join(listDir, "chantal-backup-20240501-000000.tar"), rawTar(validEntries()));
      writeFileSync(join(listDir, "chantal-backup-20240502-000000.tar.gz"), Buffer.from("not a tar at all, just bytes"));
      writeFileSync(join(listDir, "notes.txt"), "ignored");
      const list = await listBackups(new LocalStore(listDir));
      expect(list.map((b) => [b.name, b.valid])).toEqual([
        ["chantal-backup-20240502-000000.tar.gz", false],
        ["chantal-backup-20240501-000000.tar", true],
      ]);
      expect(list[0]!.error).toMatch(/not a readable tar|no manifest/);
      expect(readdirSync(listDir)).toHaveLength(3);
    } finally {
      rmSync(listDir, { recursive: true, force: true });
    }
  });
});
