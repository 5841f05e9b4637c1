// Which temporaries are a dead process's leftovers (table), and the sweep on a real directory with a real dead pid.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { judgeLeftover, ownedName, ownerTag, parseOwner, sweepLeftovers } from "../../../core/leftovers.js";

const HOUR = 3_600_000;
const facts = { host: "h1", pid: 100, now: 10 * 24 * HOUR, maxAgeMs: 24 * HOUR, alive: (pid: number) => pid === 200 };

describe("judgeLeftover", () => {
  it.each([
    ["this process", ".x~h1~100~ab", facts.now, false],
    ["a live process on this host, however old", ".x~h1~200~ab", 0, false],
    ["a dead process on this host, however young", ".x~h1~300~ab", facts.now, true],
    ["another host's, young", ".x~h2~300~ab", facts.now - HOUR, false],
    ["another host's, older than the limit", ".x~h2~300~ab", facts.now - 25 * HOUR, true],
    ["untagged (an older Chantal's), young", ".x.partial", facts.now - HOUR, false],
    ["untagged, old", ".x.partial", facts.now - 25 * HOUR, true],
  ])("%s", (_label, name, mtime, dead) => {
    expect(judgeLeftover(name, mtime, facts).dead).toBe(dead);
  });
});

describe("owner tags", () => {
  it("parse back, also from a dotted host name", () => {
    expect(parseOwner(`.b.tar.gz.partial${ownerTag("mirror.example.org", 42)}ff`)).toEqual({ host: "mirror.example.org", pid: 42 });
    expect(parseOwner(ownedName(".s"))).toEqual({ host: hostname(), pid: process.pid });
    expect(parseOwner(".plain-name")).toBeNull();
  });
});

describe("sweepLeftovers", () => {
  const dir = mkdtempSync(join(tmpdir(), "chantal-leftovers-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it("removes what dead processes and old untagged runs left, keeps the living and the unrelated", async () => {
    const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout.trim());
    const deadName = `.chantal-backup-staging${ownerTag(hostname(), deadPid)}aa`;
    mkdirSync(join(dir, deadName));
    writeFileSync(join(dir, deadName, "database.sql.gz"), "secret");
    const mine = ownedName(".chantal-backup-staging");
    mkdirSync(join(dir, mine));
    writeFileSync(join(dir, ".chantal-backup-staging-old"), "");
    utimesSync(join(dir, ".chantal-backup-staging-old"), new Date(Date.now() - 48 * HOUR), new Date(Date.now() - 48 * HOUR));
    writeFileSync(join(dir, ".chantal-backup-staging-young"), "");
    writeFileSync(join(dir, "chantal-backup-20260101-000000.tar.gz"), "");
    const removed = await sweepLeftovers(dir, (n) => n.startsWith(".chantal-backup-staging"));
    expect(removed.map((r) => r.name).sort()).toEqual([".chantal-backup-staging-old", deadName].sort());
    expect(readdirSync(dir).sort()).toEqual([".chantal-backup-staging-young", mine, "chantal-backup-20260101-000000.tar.gz"].sort());
  });
  it("is a no-op for a missing directory", async () => {
    expect(await sweepLeftovers(join(dir, "missing"), () => true)).toEqual([]);
  });
});
