// `config validate` on hostile configuration: an alias bomb, a traversing snapshot template, component and
// distribution: exit 78 with every problem as file: key.path: message, never a crash or a later failure.
import { rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { makeConfigDir, runCli } from "../helpers/cli.js";

describe("config validate refuses hostile configuration with exit 78", () => {
  it("reports an alias bomb, a snapshot template that leaves snapshots/, and apt paths that leave dists/", async () => {
    const levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `${"abcdefghi"[i]}: &${"abcdefghi"[i]} [${Array(9)
          .fill(`*${"abcdefghi"[i - 1]}`)
          .join(", ")}]`,
      );
    const dir = makeConfigDir({
      "config.yaml": [
        "repositories:",
        "  - id: r1",
        "    type: rpm",
        "    upstream_url: http://mirror.example.org/r1",
        "    schedule:",
        '      cron: "0 2 * * *"',
        '      snapshot_name_template: "../../{date}"',
        "  - id: d1",
        "    type: apt",
        "    upstream_url: http://mirror.example.org/debian",
        "    apt:",
        "      distribution: bookworm/../..",
        "      components: [main, ../../x]",
        "",
      ].join("\n"),
      "conf.d/bomb.yaml": `${levels.join("\n")}\n`,
    });
    try {
      const r = await runCli(["config", "validate", "--config-dir", dir]);
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/conf\.d\/bomb\.yaml: invalid YAML: Excessive alias count/);
      expect(r.stderr).toContain('config.yaml:7: repository r1: schedule.snapshot_name_template: snapshot name "../../20261231" must be 1-128 letters');
      expect(r.stderr).toContain('config.yaml:12: repository d1: apt.distribution: "bookworm/../.." must be a suite or codename under dists/');
      expect(r.stderr).toContain('config.yaml:13: repository d1: apt.components[1]: "../../x" must be a component of the suite');
      expect(r.stderr).not.toMatch(/ReferenceError|at .*\.js:\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
