// The primary's parse started while the database starts (core/rpm/primary-ahead.ts), through the real CLI: taken over
// when the sync's own repomd.xml names the same file, dropped when upstream changed in between, not tried on a no-op.
import { mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import type { Fault, RecordedRequest } from "../helpers/http-server.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";

const REPOMD = "/repodata/repomd.xml";
const STARTED = /primary\.xml\.gz: fetched and parsing while the database starts/;
const TAKEN = /primary\.xml\.gz: the parse started while the database started is taken over/;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("repo sync: the primary parsed while the database starts", () => {
  it("is taken over when upstream is the same, dropped when upstream changed in between, and not tried on a no-op", async () => {
    const top = mkdtempSync(join(tmpdir(), "chantal-ahead-"));
    dirs.push(top);
    // Upstreams: 30 packages from pkg000000, from pkg000005, from pkg000010, from pkg000015; "up" points at one of them.
    const versions = [0, 5, 10, 15].map((first) => join(top, `from${first}`));
    await Promise.all(versions.map((dir, i) => generateRpmRepo(dir, 30, 2_000, { first: i * 5 })));
    const up = join(top, "up");
    const serve = (dir: string) => {
      symlinkSync(dir, `${up}.new`);
      renameSync(`${up}.new`, up);
    };
    serve(versions[0]!);

    // What the next repomd.xml request numbered `at` (per path, from 1) does: answers late, after switching upstream.
    let slow: { at: number; switchTo?: string } | undefined;
    const faults = (req: RecordedRequest, nth: number): Fault | undefined => {
      if (req.path !== REPOMD || nth !== slow?.at) return undefined;
      if (slow.switchTo) serve(slow.switchTo);
      return { delayMs: 700 };
    };
    const env: SyncEnvironment = await startSyncEnvironment({ upstream: up, faults });
    try {
      const sync = () => env.cli("repo", "sync", "--repo-id", "r1", "--json", "--log-level", "debug");
      const packages = async () =>
        (
          await env.pg.query(
            `SELECT rp.location FROM chantal.repository_packages rp JOIN chantal.repositories r ON r.id = rp.repository_id WHERE r.repo_id = 'r1'`,
          )
        ).rows
          .map((r) => (r.location as string).replace(/^.*\/(pkg\d+)-.*$/, "$1"))
          .sort();
      const repomdRequests = () => env.server.requestsFor(REPOMD).length;
      const primaryRequests = () => env.server.requests.filter((r) => r.path.endsWith("primary.xml.gz")).length;

      const first = await sync();
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout)).toMatchObject({ status: "success", counts: { packages_added: 30 } });

      // Upstream changed before the run: the head start fetches repomd.xml and the new primary, and starts its parse; the
      // sync's own repomd.xml (held back 0.7 s, so the head start is surely first) names the same file, and takes it over.
      serve(versions[1]!);
      slow = { at: repomdRequests() + 2 };
      const primariesBefore = primaryRequests();
      const taken = await sync();
      expect(taken.code, taken.stderr).toBe(0);
      expect(taken.stderr).toMatch(STARTED);
      expect(taken.stderr).toMatch(TAKEN);
      expect(JSON.parse(taken.stdout)).toMatchObject({ status: "success", counts: { packages_total: 30, packages_added: 5, packages_removed: 5 } });
      expect(primaryRequests() - primariesBefore).toBe(1); // the sync found it in the pool
      expect((await packages())[0]).toBe("pkg000005");
      expect(readFileSync(join(env.published("r1"), "repodata/repomd.xml"))).toEqual(readFileSync(join(versions[1]!, "repodata/repomd.xml")));

      // Upstream changes again between the head start's repomd.xml and the sync's: the parse started ahead is of a
      // primary the sync does not use; it parses the one its repomd.xml names, and the head start is dropped.
      serve(versions[2]!);
      slow = { at: repomdRequests() + 2, switchTo: versions[3]! };
      const dropped = await sync();
      expect(dropped.code, dropped.stderr).toBe(0);
      expect(dropped.stderr).toMatch(STARTED);
      expect(dropped.stderr).not.toMatch(TAKEN);
      expect(JSON.parse(dropped.stdout)).toMatchObject({ status: "success", counts: { packages_total: 30, packages_added: 10, packages_removed: 10 } });
      const now = await packages();
      expect([now[0], now.at(-1), now.length]).toEqual(["pkg000015", "pkg000044", 30]);
      expect(readFileSync(join(env.published("r1"), "repodata/repomd.xml"))).toEqual(readFileSync(join(versions[3]!, "repodata/repomd.xml")));

      // Unchanged upstream: its primary is pooled, so nothing is fetched or parsed ahead.
      slow = undefined;
      const noop = await sync();
      expect(noop.code, noop.stderr).toBe(0);
      expect(JSON.parse(noop.stdout)).toMatchObject({ status: "noop" });
      expect(noop.stderr).not.toMatch(STARTED);
    } finally {
      await env.close();
    }
  });
});
