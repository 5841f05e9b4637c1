// The layer rules of .dependency-cruiser.cjs fire on a crafted tree of crossings, and stay quiet on the allowed imports.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** Each crafted module and what it imports; the import is the crossing (or the allowed edge) under test. */
const TREE: Record<string, string> = {
  "core/errors.ts": "export const E = 1;\n",
  "bin/main.ts": 'import { E } from "../core/errors.js";\nexport const main = E;\n',
  "functions/sync.ts": 'import { main } from "../bin/main.js";\nexport const sync = main;\n',
  "core/uses-bin.ts": 'import { main } from "../bin/main.js";\nexport const x = main;\n',
  "core/uses-test.ts": 'import { helper } from "../test/helpers/h.js";\nexport const y = helper;\n',
  "test/helpers/h.ts": 'import { main } from "../../bin/main.js";\nimport { sync } from "../../functions/sync.js";\nexport const helper = [main, sync];\n',
  "core/repository-types.ts": 'import { rpm } from "./rpm/sync.js";\nexport const types = { rpm };\n',
  "core/rpm/location.ts": "export const safe = 1;\n",
  "core/rpm/sync.ts":
    'import { safe } from "./location.js";\nimport type { Target } from "../publish/targets.js";\nexport const rpm = safe;\nexport type T = Target;\n',
  "core/rpm/table.ts": 'import { types } from "../repository-types.js";\nexport const t = types;\n',
  "core/apt/sync.ts": 'import { safe } from "../rpm/location.js";\nimport { commit } from "../mirror/commit.js";\nexport const apt = [safe, commit];\n',
  "core/publish/targets.ts": "export type Target = string;\n",
  "core/mirror/commit.ts": 'import { rows } from "../db/rows.js";\nexport const commit = rows;\n',
  "core/mirror/location.ts": 'import { safe } from "../rpm/location.js";\nexport const l = safe;\n',
  "core/db/rows.ts": "export const rows = 1;\n",
  "core/db/climbs.ts": 'import { apt } from "../apt/sync.js";\nimport { commit } from "../mirror/commit.js";\nexport const c = [apt, commit];\n',
  "core/sync/run.ts": 'import { rows } from "../db/rows.js";\nexport const run = rows;\n',
  "core/old-caller.ts": 'import { run } from "./sync/run.js";\nexport const o = run;\n',
  "core/circle-a.ts": 'import { b } from "./circle-b.js";\nexport const a = 1;\nexport const ab = b;\n',
  "core/circle-b.ts": 'import { a } from "./circle-a.js";\nexport const b = a;\n',
};

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: unknown;
}

let scratch: string;
let violations: Violation[];

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "chantal-layers-"));
  for (const [path, text] of Object.entries(TREE)) {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    writeFileSync(join(scratch, path), text);
  }
  for (const file of ["tsconfig.json", "package.json"]) copyFileSync(join(repoRoot, file), join(scratch, file));
  symlinkSync(join(repoRoot, "node_modules"), join(scratch, "node_modules"));
  const depcruise = join(repoRoot, "node_modules", ".bin", "depcruise");
  const args = ["--config", join(repoRoot, ".dependency-cruiser.cjs"), "--output-type", "json", "bin", "core", "functions"];
  // Exits non-zero when a rule fires, which is the point here: the report is on stdout either way.
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [depcruise, ...args], { cwd: scratch, maxBuffer: 16 * 1024 * 1024 }, (err, out, stderr) =>
      out ? resolve(out) : reject(new Error(`depcruise printed nothing: ${err?.message ?? ""} ${stderr}`)),
    ),
  );
  violations = (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}, 60_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const fired = (rule: string) =>
  violations
    .filter((v) => v.rule.name === rule)
    .map((v) => `${v.from} -> ${v.to}`)
    .sort();

describe(".dependency-cruiser.cjs", () => {
  it.each([
    ["core-not-to-entry-points", ["core/uses-bin.ts -> bin/main.ts"]],
    ["functions-not-to-bin", ["functions/sync.ts -> bin/main.ts"]],
    ["format-not-to-orchestrator", ["core/rpm/sync.ts -> core/publish/targets.ts", "core/rpm/table.ts -> core/repository-types.ts"]],
    ["formats-not-to-each-other", ["core/apt/sync.ts -> core/rpm/location.ts"]],
    ["mirror-not-to-formats", ["core/mirror/location.ts -> core/rpm/location.ts"]],
    ["db-not-up", ["core/db/climbs.ts -> core/apt/sync.ts", "core/db/climbs.ts -> core/mirror/commit.ts"]],
    ["production-not-to-tests", ["core/uses-test.ts -> test/helpers/h.ts"]],
    ["no-core-sync", ["core/old-caller.ts -> core/sync/run.ts"]],
  ])("%s fires on exactly the crafted crossings", (rule, expected) => {
    expect(fired(rule)).toEqual(expected);
  });

  it("no-circular names the circle, and a type-only import is part of the graph", () => {
    // One report per circle, at its first edge, with the whole circle.
    expect(fired("no-circular")).toEqual(["core/circle-a.ts -> core/circle-b.ts"]);
    const circle = JSON.stringify(violations.find((v) => v.rule.name === "no-circular")?.cycle);
    expect(circle).toContain("core/circle-b.ts");
    expect(circle).toContain("core/circle-a.ts");
    expect(fired("format-not-to-orchestrator")).toContain("core/rpm/sync.ts -> core/publish/targets.ts");
  });

  it("allowed edges pass: a format's own files, mirror and db below the formats, tests importing anything, the type table importing a format", () => {
    const allowed = [
      "core/rpm/sync.ts -> core/rpm/location.ts",
      "core/apt/sync.ts -> core/mirror/commit.ts",
      "core/mirror/commit.ts -> core/db/rows.ts",
      "core/repository-types.ts -> core/rpm/sync.ts",
      "test/helpers/h.ts -> bin/main.ts",
      "test/helpers/h.ts -> functions/sync.ts",
      "core/sync/run.ts -> core/db/rows.ts",
    ];
    const flagged = new Set(violations.map((v) => `${v.from} -> ${v.to}`));
    for (const edge of allowed) expect(flagged.has(edge), edge).toBe(false);
  });

  it("reports nothing it was not asked for (no unresolvable import in the crafted tree)", () => {
    expect(fired("not-to-unresolvable")).toEqual([]);
    expect(violations.length).toBe(11);
  });
});
