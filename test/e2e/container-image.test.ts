// The task image end to end: scripts/build-image.sh builds the Dockerfile with podman, then the container entry runs
// in it (host network) for a sync into S3 (s3rver) and a backup into an s3:// target, against a real PostgreSQL;
// the real dnf reads the published tree from the bucket. One image build, two container runs.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type S3rver from "s3rver";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot, makeConfigDir } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dnfClient } from "../helpers/dnf.js";
import { startStaticServer, type StaticServer } from "../helpers/http-server.js";
import { buildRpm, createRepo } from "../helpers/rpm-fixtures.js";
import { listS3Keys, startS3rver, useS3rverCredentials } from "../helpers/s3rver.js";
import { describeWithTools, missingTools } from "../helpers/tools.js";

// This process lists the bucket too; never the instance metadata service.
useS3rverCredentials();

const IMAGE = "localhost/chantal-task:e2e";
const PODMAN = ["--runtime=runc", "--storage-driver=vfs", "--cgroup-manager=cgroupfs"];
const RUN_FLAGS = ["--network=host", "--ulimit=nofile=1024:1024", "--ulimit=nproc=1024:1024"];
const BUCKET = "chantal-pool";
const PREFIX = "mirror";
const BACKUPS = "chantal-backups";

/** Why containers cannot run here (rootless, no runtime), or null: checked with a real `podman info`. */
function podmanUnusable(): string | null {
  if (process.getuid?.() !== 0) return "rootful podman needs root";
  const info = spawnSync("podman", [...PODMAN, "info", "--format", "{{.Host.OCIRuntime.Name}}"], { encoding: "utf8" });
  return info.status === 0 ? null : `podman info failed: ${(info.stderr || info.error?.message || "").trim()}`;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProcess(cmd: string, args: string[], timeoutMs: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let scratch: string;
let upstream: StaticServer;
let s3: { server: S3rver; endpoint: string };
let db: TestDatabase;
let pool: pg.Pool;
let configDir: string;
let rpm: string;

/** The container entry in the image: the config dir mounted read-only where CHANTAL_CONFIG_DIR points. */
function entry(...args: string[]): Promise<Ran> {
  return runProcess(
    "podman",
    [
      ...PODMAN,
      "run",
      "--rm",
      ...RUN_FLAGS,
      `--volume=${configDir}:/var/lib/chantal/config:ro`,
      `--env=CHANTAL_DATABASE_URL=${db.url}`,
      "--env=AWS_ACCESS_KEY_ID=S3RVER",
      "--env=AWS_SECRET_ACCESS_KEY=S3RVER",
      "--env=AWS_REGION=us-east-1",
      "--env=AWS_EC2_METADATA_DISABLED=true",
      IMAGE,
      "node",
      "dist/functions/entry.js",
      ...args,
    ],
    180_000,
  );
}

const TOOLS = ["podman", "runc", "debootstrap", "rpmbuild", "createrepo_c", "dnf"];
// Missing tools are describeWithTools' message; with the tools there, containers must also be able to run.
const problem = missingTools(TOOLS).length > 0 ? null : podmanUnusable();

describeWithTools(TOOLS, "the task image (podman): the entry syncs into S3 and backs up", () => {
  if (problem && process.env.CHANTAL_REQUIRE_TOOLS !== "1") {
    console.warn(`SKIPPED the task image test: containers cannot run here (${problem})`);
    it.skip("needs containers", () => undefined);
    return;
  }
  if (problem) {
    it("can run containers", () => {
      throw new Error(`containers cannot run in CI: ${problem}`);
    });
    return;
  }

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-image-"));
    const started = Date.now();
    const build = await runProcess(join(repoRoot, "scripts/build-image.sh"), [IMAGE], 20 * 60_000);
    if (build.code !== 0) throw new Error(`scripts/build-image.sh failed (${build.code}):\n${build.stderr.slice(-4000)}`);
    console.info(`container-image: image built in ${Math.round((Date.now() - started) / 1000)} s`);

    rpm = await buildRpm({ dir: join(scratch, "upstream", "Packages"), name: "hello-image", version: "1.0", release: "1", payloadBytes: 2000 });
    await createRepo(join(scratch, "upstream"));
    upstream = await startStaticServer({ root: join(scratch, "upstream") });
    s3 = await startS3rver(join(scratch, "s3rver"), [BUCKET, BACKUPS]);
    db = await createTestDatabase("image");
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
    pool.on("error", () => undefined);
    const s3conn = `    region: us-east-1\n    endpoint: ${s3.endpoint}\n    force_path_style: true\n`;
    configDir = makeConfigDir({
      "config.yaml": [
        "storage:",
        "  base_path: /var/lib/chantal/data",
        "  backend: s3",
        "  s3:",
        `    bucket: ${BUCKET}`,
        `    prefix: ${PREFIX}`,
        s3conn,
        "backup:",
        `  target: s3://${BACKUPS}/site`,
        "  s3:",
        s3conn,
        "repositories:",
        "  - id: r1",
        "    type: rpm",
        `    upstream_url: ${upstream.url}/`,
        "",
      ].join("\n"),
    });
    // mkdtemp makes it 0700 for root: the container's node user (uid 1000) must read it.
    chmodSync(configDir, 0o755);
    chmodSync(join(configDir, "config.yaml"), 0o644);
  }, 25 * 60_000);

  afterAll(async () => {
    await upstream?.close();
    await s3?.server.close();
    await pool?.end();
    await db?.drop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it(
    "runs as node, syncs r1 into the bucket (base_path under /var/lib/chantal) and backs up to s3://; dnf reads the tree",
    async () => {
      const inspect = spawnSync("podman", [...PODMAN, "image", "inspect", "--format", "{{.Config.User}} {{.Size}}", IMAGE], { encoding: "utf8" });
      expect(inspect.status, inspect.stderr).toBe(0);
      const [user, size] = inspect.stdout.trim().split(" ");
      expect(user).toBe("node");
      console.info(`container-image: ${IMAGE} is ${Math.round(Number(size) / 1e6)} MB`);

      const sync = await entry("sync", "--repo-id", "r1");
      expect(sync.code, sync.stdout + sync.stderr).toBe(0);
      expect(sync.stdout).toContain('"msg":"sync success"');
      const run = (await pool.query(`SELECT status, trigger FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
      expect(run).toEqual({ status: "success", trigger: "cloud" });

      const backup = await entry("backup");
      expect(backup.code, backup.stdout + backup.stderr).toBe(0);
      const archives = await listS3Keys(s3.endpoint, BACKUPS, "site/");
      expect(archives.length, archives.join(", ")).toBeGreaterThanOrEqual(1);
      expect(
        archives.some((k) => /\.tar\.gz$/.test(k)),
        archives.join(", "),
      ).toBe(true);

      const tree = `${s3.endpoint}/${BUCKET}/${PREFIX}/published/r1/latest`;
      const dnf = dnfClient(scratch, "image");
      expect(await dnf.available(tree, "%{name}-%{version}-%{release}")).toEqual(["hello-image-1.0-1"]);
      const dl = mkdtempSync(join(scratch, "dl-"));
      await dnf.dnf(tree, "download", "--destdir", dl, "hello-image");
      expect(readFileSync(join(dl, "hello-image-1.0-1.noarch.rpm"))).toEqual(readFileSync(rpm));
    },
    10 * 60_000,
  );
});
