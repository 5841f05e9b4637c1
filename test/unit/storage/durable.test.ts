// durableRename under strace: the source is flushed before the rename, the directories after it, in that order.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DirtyDirectories } from "../../../core/storage/durable.js";
import { repoRoot } from "../../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** fsync and rename calls of a node process running `script` (with durable.ts imported as `m`), in order, as "fsync <path>" / "rename <from> <to>". */
function traced(dir: string, script: string): string[] {
  const out = join(dir, "strace.out");
  const code = `const m = await import(${JSON.stringify(join(repoRoot, "core/storage/durable.ts"))}); ${script}`;
  const r = spawnSync(
    "strace",
    ["-f", "-qq", "-y", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "-o", out, process.execPath, "--import", "tsx", "-e", code],
    { cwd: repoRoot, encoding: "utf8" },
  );
  expect(r.status, r.stderr).toBe(0);
  const calls: string[] = [];
  for (const line of readFileSync(out, "utf8").split("\n")) {
    // A call that overlaps another thread's is split into "<unfinished ...>" and "resumed" lines: its start counts.
    const sync = /\b(?:fsync|fdatasync)\(\d+<([^>]+)>/.exec(line);
    if (sync) calls.push(`fsync ${sync[1]}`);
    const ren = /\brename(?:at2?)?\((?:[^,]+, )?"([^"]+)", (?:[^,]+, )?"([^"]+)"/.exec(line);
    if (ren) calls.push(`rename ${ren[1]} ${ren[2]}`);
  }
  return calls;
}

describe("durableRename", () => {
  it.each([
    {
      name: "within a directory",
      to: "a/dst",
      syncSource: true,
      expected: (d: string) => [`fsync ${d}/a/src`, `rename ${d}/a/src ${d}/a/dst`, `fsync ${d}/a`],
    },
    {
      name: "across directories: both are flushed",
      to: "b/dst",
      syncSource: true,
      expected: (d: string) => [`fsync ${d}/a/src`, `rename ${d}/a/src ${d}/b/dst`, `fsync ${d}/b`, `fsync ${d}/a`],
    },
    {
      name: "a source the caller flushed (a tree) is not flushed again",
      to: "a/dst",
      syncSource: false,
      expected: (d: string) => [`rename ${d}/a/src ${d}/a/dst`, `fsync ${d}/a`],
    },
  ])("$name", ({ to, syncSource, expected }) => {
    const d = mkdtempSync(join(tmpdir(), "chantal-durable-"));
    dirs.push(d);
    mkdirSync(join(d, "a"));
    mkdirSync(join(d, "b"));
    writeFileSync(join(d, "a/src"), "data");
    const calls = traced(d, `await m.durableRename(${JSON.stringify(join(d, "a/src"))}, ${JSON.stringify(join(d, to))}, { syncSource: ${syncSource} });`);
    // Directory fsyncs of one call run concurrently: compare them as a set after the rename.
    const want = expected(d);
    const mine = calls.filter((c) => c.includes(d));
    expect(mine.slice(0, want.findIndex((c) => c.startsWith("rename")) + 1)).toEqual(want.slice(0, want.findIndex((c) => c.startsWith("rename")) + 1));
    expect(new Set(mine)).toEqual(new Set(want));
    expect(mine).toHaveLength(want.length);
  });

  it("storage.fsync: false (setFsyncEnabled(false)): the rename happens, no flush at all", () => {
    const d = mkdtempSync(join(tmpdir(), "chantal-durable-"));
    dirs.push(d);
    mkdirSync(join(d, "a"));
    writeFileSync(join(d, "a/src"), "data");
    const calls = traced(
      d,
      `m.setFsyncEnabled(false); await m.durableRename(${JSON.stringify(join(d, "a/src"))}, ${JSON.stringify(join(d, "a/dst"))}); const dd = new m.DirtyDirectories(); dd.add(${JSON.stringify(join(d, "a"))}); await dd.flush();`,
    );
    expect(calls.filter((c) => c.includes(d))).toEqual([`rename ${d}/a/src ${d}/a/dst`]);
  });

  it("DirtyDirectories: a flush resolves only once every directory added before it is flushed, each once", () => {
    const d = mkdtempSync(join(tmpdir(), "chantal-durable-"));
    dirs.push(d);
    for (const n of ["x", "y"]) mkdirSync(join(d, n));
    const calls = traced(
      d,
      `const dd = new m.DirtyDirectories(); dd.add(${JSON.stringify(join(d, "x"))}); dd.add(${JSON.stringify(join(d, "x"))}); const first = dd.flush();
       dd.add(${JSON.stringify(join(d, "y"))}); await dd.flush(); await first; await dd.flush();`,
    );
    expect(calls.filter((c) => c.includes(d)).sort()).toEqual([`fsync ${d}/x`, `fsync ${d}/y`]);
  });
});

describe("DirtyDirectories.take", () => {
  it("hands over the directories added so far; a flush after it has none of them left to flush", async () => {
    const d = new DirtyDirectories();
    d.add("/nonexistent/a");
    d.add("/nonexistent/b");
    expect([...d.take()].sort()).toEqual(["/nonexistent/a", "/nonexistent/b"]);
    expect(d.take().size).toBe(0);
    // Flushing the taken (missing) directories would fail: nothing is left to flush.
    await expect(d.flush()).resolves.toBeUndefined();
  });
});
