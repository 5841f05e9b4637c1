// The CLI end to end on a real database: config, repo, snapshot and db verbs, exit codes and messages.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { join } from "node:path";
import { makeConfigDir, repoRoot, runCli } from "../helpers/cli.js";

let tdb: TestDatabase;
let dir: string;
beforeAll(async () => {
  tdb = await createTestDatabase("cli");
  dir = makeConfigDir({
    "config.yaml": `storage:\n  base_path: ./data\ndatabase:\n  url: \${TEST_URL}\nrepositories:\n  - id: alpha\n    type: rpm\n    upstream_url: http://mirror.example.org/alpha\n    auth: { type: basic, username: user, password: topsecret }\n`,
    "conf.d/beta.yaml": `repositories:\n  - id: beta\n    type: apt\n    upstream_url: http://mirror.example.org/debian\n    apt:\n      distribution: bookworm\n    schedule:\n      cron: "0 2 * * *"\n      timezone: Europe/Berlin\n`,
  });
});
afterAll(async () => {
  await tdb.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("chantal-run config", () => {
  it("validate exits 0 on a valid configuration", async () => {
    const r = await runCli(["config", "validate", "--config-dir", dir], { env: { TEST_URL: tdb.url } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/configuration is valid: 2 file\(s\), 2 repositories \(1 scheduled\)/);
  });

  it("validate exits 78 and lists every problem", async () => {
    const bad = makeConfigDir({
      "config.yaml": "repositories:\n  - id: a\n    type: rpm\n    upstream_url: http://x.example.org/\n    schedule: { cron: '0 25 * * *' }\n",
      "conf.d/rhel9.yaml": "repositories:\n  - id: a\n    type: rpm\n    upstream_url: http://x.example.org/\n    unknown_key: 1\n",
    });
    const r = await runCli(["config", "validate"], { env: { CHANTAL_CONFIG_DIR: bad } });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('config.yaml:5: repository a: schedule.cron: "0 25 * * *" is not a valid cron expression (hour 25 is out of range 0-23)');
    expect(r.stderr).toContain("conf.d/rhel9.yaml:5: repository a: unknown_key: unknown key");
    expect(r.stderr).toContain('conf.d/rhel9.yaml:2: repository a: id: repository id "a" is already defined in config.yaml:2');
    rmSync(bad, { recursive: true, force: true });
  });

  it("the shipped examples validate: the local one for the local scheduler, the AWS one for AWS without a warning", async () => {
    const local = await runCli(["config", "validate", "--config-dir", join(repoRoot, "examples/config")]);
    expect(local.code, local.stderr).toBe(0);
    const aws = await runCli(["config", "validate", "--config-dir", join(repoRoot, "examples/aws"), "--target", "aws"], {
      env: { CHANTAL_POOL_BUCKET: undefined, CHANTAL_BACKUP_TARGET: undefined, CHANTAL_PROXY_PASSWORD: undefined },
    });
    expect(aws.stderr).toBe("");
    expect(aws.code).toBe(0);
    // The local example keeps its pool on this host's disk: refused for AWS.
    const refused = await runCli(["config", "validate", "--config-dir", join(repoRoot, "examples/config"), "--target", "aws"]);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toMatch(/storage\.backend: on AWS: is the filesystem/);
  });

  it("schema prints a JSON Schema that describes the sections", async () => {
    const r = await runCli(["config", "schema"]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema.$schema).toMatch(/json-schema/);
    expect(Object.keys(schema.properties)).toEqual([
      "storage",
      "database",
      "proxy",
      "http",
      "repositories",
      "scheduler",
      "backup",
      "publish",
      "filter",
      "signing",
      "snapshots",
      "pool",
      "freshness",
      "metrics",
      "web",
      "groups",
      "environments",
      "export",
      "cloud",
      "notify",
    ]);
    expect(schema.additionalProperties).toBe(false);
  });

  it("an unknown command is a usage error (exit 2)", async () => {
    const r = await runCli(["frobnicate"]);
    expect(r.code).toBe(2);
  });
});

describe("chantal-run db and repo", () => {
  it("db status shows the schema version, and repo list joins config and database", async () => {
    const env = { TEST_URL: tdb.url };
    const before = JSON.parse((await runCli(["db", "status", "--json", "-c", dir], { env })).stdout);
    expect(before.schema_version).toBeNull();
    expect(before.pending).toContain("0001_initial");
    const migrated = await runCli(["db", "migrate", "-c", dir], { env });
    expect(migrated.stdout).toMatch(/^applied: 0001_initial/);
    const status = await runCli(["db", "status", "--json", "-c", dir], { env });
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s.pending).toEqual([]);
    expect(s.schema_version).toMatch(/^\d{4}_/);
    expect(s.source).toBe("database.url");
    expect(status.stdout).not.toContain(new URL(tdb.url).password || "\u0000");

    const pool = new pg.Pool({ connectionString: tdb.url });
    await pool.query(
      `INSERT INTO chantal.repositories (repo_id, type, upstream_url) VALUES ('alpha', 'rpm', 'http://mirror.example.org/alpha'), ('gone', 'rpm', 'http://old.example.org/')`,
    );
    await pool.query(
      `INSERT INTO chantal.sync_runs (repository_id, trigger, host, pid, status, finished_at) SELECT id, 'manual', 'h', 1, 'success', now() FROM chantal.repositories WHERE repo_id = 'alpha'`,
    );
    await pool.end();

    const list = await runCli(["repo", "list", "--json", "-c", dir], { env });
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout);
    expect(rows.map((r: { id: string }) => r.id)).toEqual(["alpha", "beta", "gone"]);
    expect(rows[0]).toMatchObject({ type: "rpm", last_status: "success", schedule: null, in_config: true });
    expect(rows[0].upstream_url).not.toContain("topsecret");
    expect(rows[1]).toMatchObject({ type: "apt", schedule: "0 2 * * *", timezone: "Europe/Berlin", last_sync: null });
    expect(rows[2]).toMatchObject({ in_config: false });

    const table = await runCli(["repo", "list", "-c", dir], { env });
    expect(table.stdout).toMatch(/^ID\s+TYPE\s+ENABLED\s+UPSTREAM\s+SCHEDULE\s+LAST SYNC/);
    expect(table.stdout).toMatch(/alpha\s+rpm\s+yes\s+http:\/\/mirror.example.org\/alpha\s+\(manual only\)/);
    expect(table.stdout).toMatch(/gone \(not in config\)/);
  });

  it("an unreachable database exits 1 naming the host but never the password", async () => {
    const r = await runCli(["repo", "list", "-c", dir], { env: { TEST_URL: "postgres://chantal:hunter2secret@127.0.0.1:1/chantal" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot connect to PostgreSQL at chantal@127\.0\.0\.1:1\/chantal/);
    expect(r.stderr + r.stdout).not.toContain("hunter2secret");
  });
});
