// storage.backend: s3 end to end: the real CLI syncs an RPM repository and a signed APT suite into a real S3
// endpoint on 127.0.0.1 (s3rver), publishes latest and a snapshot there, follows an upstream change, and the
// real dnf and apt-get read the published trees over plain HTTP straight from the bucket.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll, expect, it } from "vitest";
import { APT_TOOLS, aptClient, buildDeb, createGpgKey, writeAptRepo, type DebSpec, type GpgKey } from "../helpers/apt-fixtures.js";
import { buildRpm, createRepo } from "../helpers/rpm-fixtures.js";
import { listFiles, startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { describeWithTools } from "../helpers/tools.js";
import { dnfClient } from "../helpers/dnf.js";

// The CLI child processes inherit these: S3rver's fixed credentials, and never the instance metadata service.
process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.AWS_ACCESS_KEY_ID = "S3RVER";
process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
process.env.AWS_REGION = "us-east-1";
delete process.env.AWS_PROFILE;

const BUCKET = "chantal-pool";
const PREFIX = "mirror/prod";
const DIST = "stable";
const COMPONENTS = ["main", "contrib"];

let scratch: string;
let upstream: string;
let s3: S3rver;
let endpoint: string;
let env: SyncEnvironment;
let key: GpgKey;
/** Server-side copies the bucket has performed (s3rver reports each as an ObjectCreated:Copy event). */
let copies = 0;
const rpms = new Map<string, string>();
const debs = new Map<string, string>();

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const treeUrl = (repo: string, name = "latest") => `${endpoint}/${BUCKET}/${PREFIX}/published/${repo}/${name}`;

async function keys(prefix: string): Promise<string[]> {
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });
  try {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/${prefix}`, ContinuationToken: token }));
      out.push(...(r.Contents ?? []).map((o) => o.Key!.slice(PREFIX.length + 1)));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  } finally {
    client.destroy();
  }
}

/** An anonymous GET by path, as dnf and apt-get do. */
async function get(url: string): Promise<{ status: number; body: Buffer }> {
  const r = await fetch(url);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

async function sync(repo: string): Promise<{ code: number | null; json: Record<string, unknown>; stderr: string }> {
  const r = await env.cli("repo", "sync", "--repo-id", repo, "--json");
  return { code: r.code, json: r.stdout ? JSON.parse(r.stdout) : {}, stderr: r.stderr };
}

// ------------------------------------------------------------------------------------------------ clients

const dnf = (url: string, ...args: string[]) => dnfClient(scratch, "s3mirror").dnf(url, ...args);
const dnfAvailable = (url: string) => dnfClient(scratch, "s3mirror").available(url, "%{name}-%{version}-%{release}");

function apt(url: string) {
  return aptClient(scratch, { uri: url, dist: DIST, components: COMPONENTS, keyring: key.keyring });
}

// ------------------------------------------------------------------------------------------------ upstream

async function addRpm(name: string, version: string): Promise<void> {
  rpms.set(`${name}-${version}`, await buildRpm({ dir: join(upstream, "rpm", "Packages", name[0]!), name, version, release: "1", payloadBytes: 3000 }));
}

async function rebuildRpmRepo(): Promise<void> {
  rmSync(join(upstream, "rpm", "repodata"), { recursive: true, force: true });
  await createRepo(join(upstream, "rpm"));
}

async function addDeb(spec: DebSpec): Promise<void> {
  debs.set(`${spec.name}=${spec.version}`, await buildDeb(join(upstream, "apt"), { payloadBytes: 4000, ...spec }));
}

function writeSuite(): Promise<void> {
  return writeAptRepo(join(upstream, "apt"), { dist: DIST, components: COMPONENTS, signer: key, byHash: true });
}

describeWithTools(["rpmbuild", "createrepo_c", "dnf", ...APT_TOOLS], "storage on S3 (s3rver), read by dnf and apt-get over HTTP", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-s3e2e-"));
    upstream = join(scratch, "upstream");
    s3 = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: join(scratch, "s3rver"), configureBuckets: [{ name: BUCKET }] });
    endpoint = `http://127.0.0.1:${(await s3.run()).port}`;
    (s3 as unknown as NodeJS.EventEmitter).on("event", (e: unknown) => {
      if (JSON.stringify(e).includes("ObjectCreated:Copy")) copies++;
    });

    await addRpm("alpha", "1.0");
    await addRpm("beta", "2.0");
    await addRpm("libcxx++", "1.0");
    await rebuildRpmRepo();

    key = await createGpgKey(join(scratch, "keys"));
    await addDeb({ name: "alpha", version: "1.0-1" });
    await addDeb({ name: "beta", version: "1:2.0-1", arch: "amd64" });
    await addDeb({ name: "delta", version: "1.0+1-1" });
    await addDeb({ name: "epsilon", version: "3.0-1", component: "contrib" });
    await writeSuite();

    env = await startSyncEnvironment({
      upstream,
      repoYaml: (url) =>
        [
          "  - id: r1",
          "    type: rpm",
          `    upstream_url: ${url}/rpm/`,
          "  - id: deb",
          "    type: apt",
          `    upstream_url: ${url}/apt/`,
          "    apt:",
          `      distribution: ${DIST}`,
          `      components: [${COMPONENTS.join(", ")}]`,
          "      architectures: [amd64]",
          "    verify:",
          `      keyring: ${key.keyring}`,
          "",
        ].join("\n"),
    });
    const configFile = join(env.configDir, "config.yaml");
    const storage = `storage:\n  backend: s3\n  s3:\n    bucket: ${BUCKET}\n    prefix: ${PREFIX}\n    region: us-east-1\n    endpoint: ${endpoint}\n    force_path_style: true\n`;
    writeFileSync(configFile, readFileSync(configFile, "utf8").replace("storage:\n", storage));
  }, 180_000);

  afterAll(async () => {
    await env?.close();
    await key?.dispose();
    await s3?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("syncs RPM into the bucket, publishes latest and a snapshot there, follows an update; dnf reads both over HTTP", async () => {
    const first = await sync("r1");
    expect(first.stderr).not.toMatch(/"level":(50|60)/);
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({
      status: "success",
      counts: { packages_total: 3, packages_downloaded: 3 },
      published: `s3://${BUCKET}/${PREFIX}/published/r1/latest/`,
    });

    // Nothing of the pool or the trees on local disk; the temp dir is left empty.
    expect(existsSync(join(env.base, "pool"))).toBe(false);
    expect(existsSync(join(env.base, "published"))).toBe(false);
    expect(listFiles(join(env.base, "tmp"))).toEqual([]);
    // Every pooled object sits at its content address.
    const pool = await keys("pool/");
    expect(pool.length).toBeGreaterThanOrEqual(3 + 4);
    for (const k of pool) {
      const m = /^pool\/([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(k);
      expect(m && m[3]!.startsWith(m[1]! + m[2]!), k).toBe(true);
    }
    const repomd = await get(`${treeUrl("r1")}/repodata/repomd.xml`);
    expect(repomd.status).toBe(200);
    expect(repomd.body).toEqual(readFileSync(join(upstream, "rpm", "repodata", "repomd.xml")));
    expect(pool).toContain(`pool/${sha256(repomd.body).slice(0, 2)}/${sha256(repomd.body).slice(2, 4)}/${sha256(repomd.body)}`);

    expect(await dnfAvailable(treeUrl("r1"))).toEqual(["alpha-1.0-1", "beta-2.0-1", "libcxx++-1.0-1"]);
    const dl = mkdtempSync(join(scratch, "dl-"));
    await dnf(treeUrl("r1"), "download", "--destdir", dl, "libcxx++", "alpha");
    expect(readFileSync(join(dl, "libcxx++-1.0-1.noarch.rpm"))).toEqual(readFileSync(rpms.get("libcxx++-1.0")!));
    expect(readFileSync(join(dl, "alpha-1.0-1.noarch.rpm"))).toEqual(readFileSync(rpms.get("alpha-1.0")!));

    const snap = await env.cli("snapshot", "create", "--repo-id", "r1", "--name", "v1", "--publish");
    expect(snap.code, snap.stderr).toBe(0);

    // Upstream moves on: alpha 1.0 -> 1.1, delta appears.
    rmSync(rpms.get("alpha-1.0")!);
    await addRpm("alpha", "1.1");
    await addRpm("delta", "1.0");
    await rebuildRpmRepo();
    const rpmRequests = () => env.server.requests.filter((r) => r.path.endsWith(".rpm")).length;
    const before = rpmRequests();
    const second = await sync("r1");
    expect(second.code, second.stderr).toBe(0);
    expect(second.json).toMatchObject({ status: "success", counts: { packages_total: 4, packages_downloaded: 2, packages_added: 2, packages_removed: 1 } });
    expect(rpmRequests() - before).toBe(2);

    expect(await dnfAvailable(treeUrl("r1"))).toEqual(["alpha-1.1-1", "beta-2.0-1", "delta-1.0-1", "libcxx++-1.0-1"]);
    expect((await get(`${treeUrl("r1")}/Packages/a/alpha-1.0-1.noarch.rpm`)).status).toBe(404);
    const latestKeys = await keys("published/r1/latest/");
    expect(latestKeys.filter((k) => k.includes("alpha"))).toEqual(["published/r1/latest/Packages/a/alpha-1.1-1.noarch.rpm"]);
    expect(latestKeys.filter((k) => k.endsWith("-primary.xml.gz"))).toHaveLength(1);

    // The snapshot still serves the old state, alpha 1.0 included.
    const v1 = treeUrl("r1", "snapshots/v1");
    expect(await dnfAvailable(v1)).toEqual(["alpha-1.0-1", "beta-2.0-1", "libcxx++-1.0-1"]);
    const dl2 = mkdtempSync(join(scratch, "dl-"));
    await dnf(v1, "download", "--destdir", dl2, "alpha");
    expect(sha256(readFileSync(join(dl2, "alpha-1.0-1.noarch.rpm")))).toBe(sha256(readFileSync(join(dl, "alpha-1.0-1.noarch.rpm"))));

    const verify = await env.cli("pool", "verify", "--repo-id", "r1");
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain(`in s3://${BUCKET}/${PREFIX}/pool/`);

    const del = await env.cli("snapshot", "delete", "--repo-id", "r1", "--name", "v1", "--force");
    expect(del.code, del.stderr).toBe(0);
    expect(await keys("published/r1/snapshots/v1/")).toEqual([]);
    expect(await keys("manifests/r1/snapshots/")).toEqual([]);
    expect((await keys("published/r1/latest/")).length).toBe(latestKeys.length);
  });

  it("syncs a signed APT suite into the bucket; apt-get reads latest and a snapshot over HTTP, by-hash too", async () => {
    const first = await sync("deb");
    expect(first.stderr).not.toMatch(/"level":(50|60)/);
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ status: "success", counts: { packages_total: 4, packages_downloaded: 4 } });
    for (const f of ["InRelease", "Release", "Release.gpg", "main/binary-amd64/Packages.xz"]) {
      expect((await get(`${treeUrl("deb")}/dists/${DIST}/${f}`)).body).toEqual(readFileSync(join(upstream, "apt", "dists", DIST, f)));
    }

    const latest = await apt(treeUrl("deb"));
    await latest.update();
    expect(await latest.available()).toEqual(["alpha=1.0-1", "beta=1:2.0-1", "delta=1.0+1-1", "epsilon=3.0-1"]);
    const got = await latest.download(join(scratch, "apt-dl1"), "beta", "delta");
    expect(got).toEqual(["beta_1%3a2.0-1_amd64.deb", "delta_1.0+1-1_all.deb"]);
    expect(readFileSync(join(scratch, "apt-dl1", got[1]!))).toEqual(readFileSync(join(upstream, "apt", debs.get("delta=1.0+1-1")!)));
    const byHash = await apt(treeUrl("deb"));
    await byHash.update("-o", "Acquire::By-Hash=force");
    expect(await byHash.available()).toContain("epsilon=3.0-1");

    expect((await env.cli("snapshot", "create", "--repo-id", "deb", "--name", "v1", "--publish")).code).toBe(0);
    rmSync(join(upstream, "apt", debs.get("alpha=1.0-1")!));
    await addDeb({ name: "alpha", version: "1.0-2" });
    await addDeb({ name: "zeta", version: "2:0.5-1", arch: "amd64" });
    await writeSuite();

    const second = await sync("deb");
    expect(second.code, second.stderr).toBe(0);
    expect(second.json).toMatchObject({ status: "success", counts: { packages_total: 5, packages_downloaded: 2, packages_added: 2, packages_removed: 1 } });
    const updated = await apt(treeUrl("deb"));
    await updated.update();
    expect(await updated.available()).toEqual(["alpha=1.0-2", "beta=1:2.0-1", "delta=1.0+1-1", "epsilon=3.0-1", "zeta=2:0.5-1"]);
    expect((await get(`${treeUrl("deb")}/${debs.get("alpha=1.0-1")}`)).status).toBe(404);

    const snapshot = await apt(treeUrl("deb", "snapshots/v1"));
    await snapshot.update();
    expect(await snapshot.available()).toEqual(["alpha=1.0-1", "beta=1:2.0-1", "delta=1.0+1-1", "epsilon=3.0-1"]);
    expect(await snapshot.download(join(scratch, "apt-dl2"), "alpha")).toEqual(["alpha_1.0-1_all.deb"]);

    // An unchanged suite is a no-op, and a republish copies nothing.
    expect((await sync("deb")).json).toMatchObject({ status: "noop" });
    const copiesBefore = copies;
    const republish = await env.cli("publish", "repo", "--repo-id", "deb");
    expect(republish.code, republish.stderr).toBe(0);
    expect(republish.stdout).toContain(`s3://${BUCKET}/${PREFIX}/published/deb/latest/`);
    expect(copies).toBe(copiesBefore);
    expect(copiesBefore).toBeGreaterThan(0);
  });
});
