// `config validate` on a repository filter: an invalid `re:` pattern fails with exit 78, naming the repository and the key.
import { rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { makeConfigDir, runCli } from "../helpers/cli.js";

describe("config validate: filter patterns", () => {
  it("an unclosed regular expression in filter.include exits 78 naming the repository and filter.include[0]", async () => {
    const bad = makeConfigDir({
      "config.yaml":
        "storage:\n  base_path: ./data\nrepositories:\n  - id: rhel9-appstream\n    type: rpm\n    upstream_url: http://127.0.0.1:9/x\n    filter:\n      include: ['re:(unclosed']\n",
    });
    const r = await runCli(["--config-dir", bad, "config", "validate"]);
    rmSync(bad, { recursive: true, force: true });
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(
      "error: config.yaml:8: repository rhel9-appstream: filter.include[0]: is not a valid regular expression: Invalid regular expression: /(unclosed/u: Unterminated group\n",
    );
    expect(r.stdout).toBe("");
  });

  it("the same filter with a valid pattern validates", async () => {
    const good = makeConfigDir({
      "config.yaml":
        "storage:\n  base_path: ./data\nrepositories:\n  - id: rhel9-appstream\n    type: rpm\n    upstream_url: http://127.0.0.1:9/x\n    filter:\n      include: ['re:(closed)', 'kernel*']\n      with_dependencies: true\n",
    });
    const r = await runCli(["--config-dir", good, "config", "validate"]);
    rmSync(good, { recursive: true, force: true });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
