// Tests of core/storage/pool.ts.
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FilesystemBlobStore, PoolError } from "../../../core/storage/pool.js";

const SHA_A = "a".repeat(64);
const SHA_B = "ab12" + "0".repeat(60);

let dir: string;
let blobs: FilesystemBlobStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "chantal-pool-"));
  blobs = new FilesystemBlobStore(join(dir, "pool"), join(dir, "tmp"));
  await blobs.ensureTempDir();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tempWith(content: string): Promise<string> {
  const path = blobs.tempPath("k");
  await writeFile(path, content);
  return path;
}

/** Make the pool one of the <aa>/<bb> layout (as a pool made before 2026-12), before the store first looks at it. */
async function legacyPool(): Promise<void> {
  await mkdir(join(dir, "pool", "00", "00"), { recursive: true });
}

/** A pid that certainly belonged to a process which has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

describe("FilesystemBlobStore", () => {
  it("lays a new pool's blobs out as <root>/<aa>/<sha256>", () => {
    expect(blobs.layout).toBe("aa");
    expect(blobs.pathOf(SHA_B)).toBe(join(dir, "pool", "ab", SHA_B));
    expect(blobs.pathOf(SHA_B.toUpperCase())).toBe(join(dir, "pool", "ab", SHA_B));
  });

  it("keeps <root>/<aa>/<bb>/<sha256> for a pool made with it", async () => {
    await legacyPool();
    expect(blobs.layout).toBe("aa/bb");
    expect(blobs.pathOf(SHA_B)).toBe(join(dir, "pool", "ab", "12", SHA_B));
  });

  it("a new pool's layout file is written before its first blob directory, and keeps the pool's layout", async () => {
    await blobs.putUnflushed(SHA_B, Buffer.from("one"));
    await blobs.flushAdopted();
    expect(await readFile(join(dir, "pool", ".chantal-pool-layout"), "utf8")).toBe("aa\n");
    // Something that looks like an <aa>/<bb> directory (an operator's copy) does not change it.
    await mkdir(join(dir, "pool", "00", "00"), { recursive: true });
    const again = new FilesystemBlobStore(join(dir, "pool"), join(dir, "tmp"));
    expect(again.layout).toBe("aa");
    expect(await again.has(SHA_B)).toBe(true);
  });

  it("a new pool whose root does not exist yet: the root, its layout file, then the blob (the asynchronous path)", async () => {
    const store = new FilesystemBlobStore(join(dir, "fresh", "pool"), join(dir, "tmp"));
    await store.adopt(await tempWith("x"), SHA_A);
    expect(await readFile(join(dir, "fresh", "pool", ".chantal-pool-layout"), "utf8")).toBe("aa\n");
    expect(await readFile(join(dir, "fresh", "pool", "aa", SHA_A), "utf8")).toBe("x");
  });

  it("names the pool when its layout cannot be read", async () => {
    await writeFile(join(dir, "pool"), "not a directory");
    const store = new FilesystemBlobStore(join(dir, "pool", "sub"), join(dir, "tmp"));
    expect(store.layout).toBe("aa");
    await rm(join(dir, "pool"));
    // An <aa> that is a symlink to itself: listing it fails (ELOOP), for root too.
    await mkdir(join(dir, "pool"));
    await symlink("00", join(dir, "pool", "00"));
    expect(() => blobs.layout).toThrow(/cannot read the pool directory .*pool.*ELOOP/);
  });

  it("refuses a pool whose layout file names a layout it does not know", async () => {
    await mkdir(join(dir, "pool"));
    await writeFile(join(dir, "pool", ".chantal-pool-layout"), "aa/bb/cc\n");
    expect(() => blobs.pathOf(SHA_A)).toThrow(/\.chantal-pool-layout names the pool layout "aa\/bb\/cc", which this version does not know/);
  });

  it("rejects a key that is not a sha256 (no path tricks)", () => {
    expect(() => blobs.pathOf("../../etc/passwd")).toThrow(PoolError);
    expect(() => blobs.pathOf("abc")).toThrow(PoolError);
  });

  it("adopts a temp file by rename, creating the directories", async () => {
    const temp = await tempWith("hello");
    expect(await blobs.has(SHA_B)).toBe(false);
    await blobs.adopt(temp, SHA_B);
    expect(await blobs.has(SHA_B)).toBe(true);
    expect(await readFile(blobs.pathOf(SHA_B), "utf8")).toBe("hello");
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("tolerates a concurrent identical adopt", async () => {
    const temps = await Promise.all(Array.from({ length: 8 }, () => tempWith("same")));
    await Promise.all(temps.map((t) => blobs.adopt(t, SHA_A)));
    expect(await readFile(blobs.pathOf(SHA_A), "utf8")).toBe("same");
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("putUnflushed writes a buffer and a stream under their names, mode 0644 whatever the umask, no temp file left", async () => {
    const old = process.umask(0o077);
    try {
      await blobs.putUnflushed(SHA_A, Buffer.from("buffered"));
      await blobs.putUnflushed(SHA_B, Readable.from([Buffer.from("str"), Buffer.from("eamed")]));
      await blobs.flushAdopted();
    } finally {
      process.umask(old);
    }
    expect(await readFile(blobs.pathOf(SHA_A), "utf8")).toBe("buffered");
    expect(await readFile(blobs.pathOf(SHA_B), "utf8")).toBe("streamed");
    expect((await stat(blobs.pathOf(SHA_A))).mode & 0o777).toBe(0o644);
    expect((await stat(blobs.pathOf(SHA_B))).mode & 0o777).toBe(0o644);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it.each([
    ["aa", ["ab"]],
    ["aa/bb", ["ab", "ab/12", "ab/34"]],
  ] as const)("putUnflushed makes new directories 0755 whatever the umask, synchronously or not, and flushes them (%s)", async (layout, made) => {
    if (layout === "aa/bb") await legacyPool();
    const old = process.umask(0o077);
    try {
      // <aa>/<bb>: ab12…: <ab> and <ab>/<12> are new (the async path, a missing parent); ab34…: only <ab>/<34> (the synchronous one).
      await blobs.putUnflushed(SHA_B, Buffer.from("one"));
      await blobs.putUnflushed(`ab34${"0".repeat(60)}`, Buffer.from("two"));
      await blobs.flushAdopted();
    } finally {
      process.umask(old);
    }
    expect(blobs.layout).toBe(layout);
    for (const d of made) expect((await stat(join(dir, "pool", d))).mode & 0o777, d).toBe(0o755);
    expect(await readFile(blobs.pathOf(`ab34${"0".repeat(60)}`), "utf8")).toBe("two");
  });

  it("putUnflushed makes a directory again when it went away after it was made (pool cleanup)", async () => {
    await blobs.putUnflushed(SHA_B, Buffer.from("one"));
    await blobs.flushAdopted();
    await rm(join(dir, "pool", "ab"), { recursive: true });
    const other = `ab12${"f".repeat(60)}`;
    await blobs.putUnflushed(other, Buffer.from("two"));
    await blobs.flushAdopted();
    expect(await readFile(blobs.pathOf(other), "utf8")).toBe("two");
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("putUnflushed never replaces a blob already in the pool (it may be recorded and flushed)", async () => {
    await blobs.adopt(await tempWith("first"), SHA_A);
    const before = await stat(blobs.pathOf(SHA_A));
    await blobs.putUnflushed(SHA_A, Buffer.from("second"));
    expect(await readFile(blobs.pathOf(SHA_A), "utf8")).toBe("first");
    expect((await stat(blobs.pathOf(SHA_A))).ino).toBe(before.ino);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("putUnflushed leaves no temp file when the stream fails (a bad blob)", async () => {
    const bad = new Readable({
      read() {
        this.destroy(new Error("sha256 mismatch"));
      },
    });
    await expect(blobs.putUnflushed(SHA_A, bad)).rejects.toThrow(/sha256 mismatch/);
    expect(await blobs.has(SHA_A)).toBe(false);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("flushAdopted fsyncs each put file when sync -f is not there", async () => {
    await blobs.putUnflushed(SHA_A, Buffer.from("x"));
    await blobs.putUnflushed(SHA_B, Buffer.from("y"));
    // A put file gone before the flush: the per-file fallback fsyncs it by name and fails, naming the pool.
    await rm(blobs.pathOf(SHA_B));
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await expect(blobs.flushAdopted()).rejects.toThrow(/cannot flush pool/);
    } finally {
      process.env.PATH = path;
    }
    await blobs.putUnflushed(SHA_B, Buffer.from("y"));
    await blobs.flushAdopted();
    expect(await readFile(blobs.pathOf(SHA_B), "utf8")).toBe("y");
  });

  it("adoptStaged: the blob enters the pool only at flushAdopted(), with the mode it was written with, no temp file left", async () => {
    const temp = await tempWith("staged");
    await blobs.adoptStaged(temp, SHA_B);
    expect(await blobs.has(SHA_B)).toBe(false);
    await blobs.flushAdopted();
    expect(await readFile(blobs.pathOf(SHA_B), "utf8")).toBe("staged");
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it.each([
    ["aa", ["ab", "cd"]],
    ["aa/bb", ["ab", "ab/12", "ab/34", "cd", "cd/12", "cd/56"]],
  ] as const)("adoptStaged: new directories are made 0755 whatever the umask, beside existing ones (%s)", async (layout, made) => {
    if (layout === "aa/bb") await legacyPool();
    await blobs.putUnflushed(`cd12${"0".repeat(60)}`, Buffer.from("existing <cd>/<12>"));
    await blobs.flushAdopted();
    const shas = [`ab12${"1".repeat(60)}`, `ab34${"2".repeat(60)}`, `cd12${"3".repeat(60)}`, `cd56${"4".repeat(60)}`];
    const old = process.umask(0o077);
    try {
      for (const [i, sha] of shas.entries()) await blobs.adoptStaged(await tempWith(`staged ${i}`), sha);
      await blobs.flushAdopted();
    } finally {
      process.umask(old);
    }
    for (const d of made) expect((await stat(join(dir, "pool", d))).mode & 0o777, d).toBe(0o755);
    for (const [i, sha] of shas.entries()) expect(await readFile(blobs.pathOf(sha), "utf8")).toBe(`staged ${i}`);
    expect(await readdir(join(dir, "tmp"))).toEqual([]);
  });

  it("adoptStaged: without sync -f each staged file is fsynced; one that cannot be moved in keeps every flush failing", async () => {
    await blobs.adoptStaged(await tempWith("a"), SHA_A);
    const gone = await tempWith("b");
    await blobs.adoptStaged(gone, SHA_B);
    await rm(gone);
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      // The per-file fallback fsyncs the vanished temp file by name: nothing is moved in.
      await expect(blobs.flushAdopted()).rejects.toThrow(/cannot flush pool/);
      expect(await blobs.has(SHA_A)).toBe(false);
    } finally {
      process.env.PATH = path;
    }
    // With sync -f: A moves in, B's rename fails; B stays staged, so no later flush reports it durable.
    await expect(blobs.flushAdopted()).rejects.toThrow(/cannot flush pool blobs.*cannot move/);
    expect(await readFile(blobs.pathOf(SHA_A), "utf8")).toBe("a");
    await expect(blobs.flushAdopted()).rejects.toThrow(/cannot flush pool/);
    expect(await blobs.has(SHA_B)).toBe(false);
  });

  it("fails clearly when the temp file is missing", async () => {
    await expect(blobs.adopt(join(dir, "tmp", "nope"), SHA_A)).rejects.toThrow(PoolError);
  });

  it.each(["aa", "aa/bb"] as const)("haveMany returns the pooled subset, many in one directory (%s)", async (layout) => {
    if (layout === "aa/bb") await legacyPool();
    const shas = Array.from({ length: 300 }, (_, i) => i.toString(16).padStart(64, "0"));
    for (const sha of shas.slice(0, 100)) await blobs.adopt(await tempWith(sha), sha);
    // A directory where a blob would be is not a blob (one listed, not stat()ed: 16 or more asked for in its directory).
    await mkdir(join(dirname(blobs.pathOf(shas[200]!)), shas[200]!));
    // A symlink to a blob elsewhere is one (stat()ed); a dangling one is not.
    await writeFile(join(dir, "elsewhere"), "linked");
    await symlink(join(dir, "elsewhere"), blobs.pathOf(shas[210]!));
    await symlink(join(dir, "gone"), blobs.pathOf(shas[211]!));
    const have = await blobs.haveMany([...shas, shas[0]!], 16);
    expect(have.has(shas[210]!)).toBe(true);
    expect(have.has(shas[211]!)).toBe(false);
    have.delete(shas[210]!);
    expect(have.size).toBe(100);
    expect(have.has(shas[0]!)).toBe(true);
    expect(have.has(shas[150]!)).toBe(false);
    expect(have.has(shas[200]!)).toBe(false);
    expect((await blobs.haveMany([])).size).toBe(0);
  });

  it.each(["aa", "aa/bb"] as const)("haveMany finds blobs across directories, present, absent and half-present (%s)", async (layout) => {
    if (layout === "aa/bb") await legacyPool();
    const sha = (prefix: string, n: number) => prefix + n.toString(16).padStart(64 - prefix.length, "0");
    const pooled = [sha("ab12", 1), sha("ab34", 2), sha("ff00", 3)];
    for (const s of pooled) await blobs.adopt(await tempWith(s), s);
    const absent = [
      sha("ab12", 9), // its directory exists
      sha("ab99", 1), // its <aa> exists (an <aa>/<bb> pool: not its <bb>)
      sha("cd00", 1), // no <aa>
    ];
    // A directory where a blob would be is not a blob.
    const notFile = sha("ee00", 1);
    await mkdir(blobs.pathOf(notFile), { recursive: true });
    const have = await blobs.haveMany([...pooled, ...absent, notFile].map((s) => s.toUpperCase()));
    expect([...have].sort()).toEqual([...pooled].sort());
    expect(blobs.layout).toBe(layout);
  });

  it("haveMany and blobsUnder follow an <aa> that is a symlink to a directory elsewhere", async () => {
    await blobs.adopt(await tempWith("x"), SHA_B);
    await rename(join(dir, "pool", "ab"), join(dir, "ab-elsewhere"));
    await symlink(join(dir, "ab-elsewhere"), join(dir, "pool", "ab"));
    const store = new FilesystemBlobStore(join(dir, "pool"), join(dir, "tmp"));
    expect([...(await store.haveMany([SHA_B]))]).toEqual([SHA_B]);
    expect(await store.blobsUnder("ab")).toEqual([SHA_B]);
  });

  it("makes unique temp names in tempDir, outside the pool tree", () => {
    const a = blobs.tempPath("same key");
    const b = blobs.tempPath("same key");
    expect(a).not.toBe(b);
    expect(dirname(a)).toBe(join(dir, "tmp"));
    expect(basename(a)).toContain(`_${process.pid}_`);
    expect(basename(a)).not.toContain(" ");
  });

  it("cleanStaleTemp removes temp files of dead processes and keeps live ones", async () => {
    const mine = await tempWith("in progress");
    const dead = mine.replace(`_${process.pid}_`, `_${deadPid()}_`);
    expect(dead).not.toBe(mine);
    await writeFile(dead, "left by kill -9");
    expect(await blobs.cleanStaleTemp(60 * 60_000)).toBe(1);
    expect(await readdir(join(dir, "tmp"))).toEqual([basename(mine)]);
  });

  it("cleanStaleTemp removes any temp file older than the limit", async () => {
    const old = await tempWith("old");
    const foreign = join(dir, "tmp", "someone-elses-file");
    await writeFile(foreign, "x");
    const past = new Date(Date.now() - 2 * 60 * 60_000);
    await utimes(old, past, past);
    await utimes(foreign, past, past);
    const fresh = await tempWith("fresh");
    expect(await blobs.cleanStaleTemp(60 * 60_000)).toBe(2);
    expect(await readdir(join(dir, "tmp"))).toEqual([basename(fresh)]);
  });

  it("cleanStaleTemp is a no-op when tempDir does not exist", async () => {
    const p = new FilesystemBlobStore(join(dir, "p2"), join(dir, "missing"));
    expect(await p.cleanStaleTemp(1000)).toBe(0);
    await mkdir(join(dir, "missing"));
    expect(await p.cleanStaleTemp(1000)).toBe(0);
  });
});
