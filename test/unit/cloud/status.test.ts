// fleetStatus: the tasks' runs per repository, failing and stuck ones first.
import { describe, expect, it } from "vitest";
import { fleetStatus } from "../../../core/cloud/status.js";
import type { SyncRunRow } from "../../../core/db/sync-runs.js";

const now = new Date("2026-12-03T12:00:00Z");
let id = 0;
const run = (repoId: string, status: SyncRunRow["status"], hoursAgo: number, error: string | null = null): SyncRunRow => ({
  id: ++id,
  repoId,
  trigger: "cloud",
  host: "ip-10-0-1-5",
  pid: 1,
  startedAt: new Date(now.getTime() - hoursAgo * 3600_000),
  finishedAt: status === "running" ? null : new Date(now.getTime() - hoursAgo * 3600_000 + 60_000),
  status,
  snapshotName: null,
  error,
  packagesTotal: 0,
  packagesDownloaded: 0,
  packagesAdded: 0,
  packagesRemoved: 0,
  bytesDownloaded: 0,
});

describe("fleetStatus", () => {
  it("per repository: newest run, last success, failures; failing and stuck first", () => {
    const f = fleetStatus(
      [run("b", "failed", 1, "HTTP 503"), run("a", "success", 2), run("c", "running", 8), run("b", "noop", 25), run("a", "failed", 26, "old")],
      now,
      6 * 3600_000,
    );
    expect(f.total).toBe(5);
    expect(f.byStatus).toEqual({ failed: 2, success: 1, running: 1, noop: 1 });
    expect(f.repositories.map((r) => [r.repoId, r.lastRun.status, r.runs, r.failures, r.stuck, r.lastError ?? null])).toEqual([
      ["b", "failed", 2, 1, false, "HTTP 503"],
      ["c", "running", 1, 0, true, null],
      ["a", "success", 2, 1, false, null],
    ]);
    expect(f.repositories.find((r) => r.repoId === "b")?.lastSuccess).toEqual(new Date(now.getTime() - 25 * 3600_000 + 60_000));
  });
  it("a run that started recently is running, not stuck", () => {
    expect(fleetStatus([run("a", "running", 1)], now, 6 * 3600_000).repositories[0]?.stuck).toBe(false);
  });
  it("no runs", () => expect(fleetStatus([], now, 1)).toEqual({ total: 0, byStatus: {}, repositories: [] }));
});
