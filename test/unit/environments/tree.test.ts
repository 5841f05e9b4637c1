// Tests of core/environments/tree.ts on a real directory: the switch, the previous link, leftovers and the collection.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, readdirSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { collectEnvironmentGarbage, ENVIRONMENTS_DIR, readEnvironment, switchEnvironment } from "../../../core/environments/tree.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function publishedDir(): string {
  const d = mkdtempSync(join(tmpdir(), "chantal-envtree-"));
  dirs.push(d);
  return d;
}

/** A process id that is not running: a child that has exited. */
const DEAD_PID = 2 ** 22 + 12345;

describe("switchEnvironment", () => {
  it("points <env> at a new member directory and .previous at the one it replaces", async () => {
    const root = publishedDir();
    await switchEnvironment(root, "prod", [
      { repoId: "a", snapshotName: "s1" },
      { repoId: "b", snapshotName: "s1" },
    ]);
    expect(Object.fromEntries(await readEnvironment(root, "prod"))).toEqual({ a: "s1", b: "s1" });
    const first = readlinkSync(join(root, "prod"));
    expect(first).toMatch(/^\.environments\/prod-/);
    expect(readlinkSync(join(root, first, "a"))).toBe("../../a/snapshots/s1");
    await switchEnvironment(root, "prod", [{ repoId: "a", snapshotName: "s2" }]);
    expect(Object.fromEntries(await readEnvironment(root, "prod"))).toEqual({ a: "s2" });
    expect(readlinkSync(join(root, ENVIRONMENTS_DIR, "prod.previous"))).toBe(first.replace(`${ENVIRONMENTS_DIR}/`, ""));
    // The replaced directory is untouched: a client that resolved prod before the switch reads it whole.
    expect(readdirSync(join(root, first)).sort()).toEqual(["a", "b"]);
  });

  it("refuses an <env> that is not our symlink", async () => {
    const root = publishedDir();
    mkdirSync(join(root, "prod"));
    await expect(switchEnvironment(root, "prod", [{ repoId: "a", snapshotName: "s1" }])).rejects.toThrow(/exists and is not a symlink made by Chantal/);
  });

  it("sweeps a dead process's building directory and swap link, and keeps a live one's", async () => {
    const root = publishedDir();
    mkdirSync(join(root, ENVIRONMENTS_DIR));
    const dead = join(root, ENVIRONMENTS_DIR, `prod-x.building~${hostname()}~${DEAD_PID}~`);
    const live = join(root, ENVIRONMENTS_DIR, `prod-y.building~${hostname()}~${process.ppid}~`);
    mkdirSync(dead);
    mkdirSync(live);
    symlinkSync("nowhere", join(root, `prod.swap~${hostname()}~${DEAD_PID}~`));
    await switchEnvironment(root, "prod", [{ repoId: "a", snapshotName: "s1" }]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(readdirSync(root)).not.toContain(`prod.swap~${hostname()}~${DEAD_PID}~`);
  });
});

describe("collectEnvironmentGarbage", () => {
  it("removes member directories nothing points to once past the grace period; the live and previous ones stay", async () => {
    const root = publishedDir();
    for (const s of ["s1", "s2", "s3"]) await switchEnvironment(root, "prod", [{ repoId: "a", snapshotName: s }]);
    const all = readdirSync(join(root, ENVIRONMENTS_DIR)).filter((n) => n.startsWith("prod-"));
    expect(all).toHaveLength(3);
    expect(await collectEnvironmentGarbage(root)).toEqual([]); // all young
    const old = new Date(Date.now() - 3600_000);
    for (const n of all) utimesSync(join(root, ENVIRONMENTS_DIR, n), old, old);
    const removed = await collectEnvironmentGarbage(root);
    expect(removed).toHaveLength(1);
    expect(Object.fromEntries(await readEnvironment(root, "prod"))).toEqual({ a: "s3" });
    const previous = join(root, ENVIRONMENTS_DIR, "prod.previous");
    expect(lstatSync(join(root, ENVIRONMENTS_DIR, readlinkSync(previous))).isDirectory()).toBe(true);
    expect(readlinkSync(join(root, ENVIRONMENTS_DIR, readlinkSync(previous), "a"))).toBe("../../a/snapshots/s2");
  });
});
