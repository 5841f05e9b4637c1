// Tests of functions/dry-run-report.ts: the text `repo sync --dry-run` prints, with and without the names.
import { describe, expect, it } from "vitest";
import { formatDryRunResult, formatPlanReport, humanSize } from "../../../functions/dry-run-report.js";
import type { SyncPlanReport } from "../../../core/mirror/types.js";
import type { SyncResult } from "../../../functions/sync-repository.js";
import { zeroCounts } from "../../../core/db/sync-runs.js";

const plan: SyncPlanReport = {
  packagesUpstream: 5,
  kept: 3,
  dropped: 2,
  addedByDependencies: 1,
  toDownload: 2,
  bytesToDownload: 3 * 1_048_576,
  bytesKept: 1536,
  keptNames: ["a-1-1.x86_64", "b-1-1.noarch", "lib-2-1.x86_64"],
  droppedNames: ["c-1-1.x86_64", "d-1-1.x86_64"],
  downloadNames: ["a-1-1.x86_64", "lib-2-1.x86_64"],
};

describe("formatPlanReport", () => {
  it("prints the counts and sizes", () => {
    expect(formatPlanReport("r1", plan, false)).toBe(
      [
        "r1: dry run — nothing downloaded, recorded or published",
        "  upstream packages:     5",
        "  kept:                  3 (1.5 KB)",
        "  dropped:               2",
        "  added by dependencies: 1",
        "  to download:           2 (3.0 MB)",
        "",
      ].join("\n"),
    );
  });

  it("with verbose, the kept, dropped and to-download names", () => {
    const text = formatPlanReport("r1", plan, true);
    expect(text).toContain(
      [
        "  kept (3):",
        "    a-1-1.x86_64",
        "    b-1-1.noarch",
        "    lib-2-1.x86_64",
        "  dropped (2):",
        "    c-1-1.x86_64",
        "    d-1-1.x86_64",
        "  to download (2):",
        "    a-1-1.x86_64",
        "    lib-2-1.x86_64",
        "",
      ].join("\n"),
    );
  });

  it("says (none) for an empty list", () => {
    expect(formatPlanReport("r1", { ...plan, dropped: 0, droppedNames: [] }, true)).toContain("  dropped (0):\n    (none)\n");
  });
});

describe("formatDryRunResult", () => {
  it("a failed dry run says why instead of a plan", () => {
    const r: SyncResult = { repoId: "r1", status: "failed", runId: null, counts: zeroCounts(), durationMs: 5, error: "HTTP 404" };
    expect(formatDryRunResult(r, false)).toBe("r1: failed — HTTP 404\n");
  });
});

describe("humanSize", () => {
  it.each([
    [0, "0 bytes"],
    [1023, "1023 bytes"],
    [1024, "1.0 KB"],
    [1_048_576 * 1.5, "1.5 MB"],
    [1024 ** 3 * 3.25, "3.3 GB"],
    [1024 ** 5, "1024.0 TB"],
  ])("%d is %s", (bytes, text) => {
    expect(humanSize(bytes)).toBe(text);
  });
});
