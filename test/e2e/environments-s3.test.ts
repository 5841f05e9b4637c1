// Lifecycle environments on the S3 backend (s3rver on 127.0.0.1): promote, promote again and roll back a group;
// dnf and apt-get read <prefix>/published/prod/<repo-id>/ over HTTP from the bucket; a reader polling during
// promotions never finds an index naming a missing package; the previous state's objects stay one promotion.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type S3rver from "s3rver";
import { afterAll, beforeAll, expect, it } from "vitest";
import { APT_TOOLS, aptClient, createGpgKey, type GpgKey } from "../helpers/apt-fixtures.js";
import { ENVIRONMENTS_DIST, environmentsRepoYaml, writeEnvironmentsUpstream } from "../helpers/environments-fixture.js";
import { dnfClient } from "../helpers/dnf.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { listS3Keys, startS3rver, useS3rverCredentials } from "../helpers/s3rver.js";
import { describeWithTools } from "../helpers/tools.js";

useS3rverCredentials();

const BUCKET = "chantal-envs";
const PREFIX = "mirror";
const DIST = ENVIRONMENTS_DIST;

let scratch: string;
let upstream: string;
let key: GpgKey;
let env: SyncEnvironment;
let s3: S3rver;
let endpoint: string;

const url = (path: string) => `${endpoint}/${BUCKET}/${PREFIX}/${path}`;
const rpmAvailable = (repoId: string, envName: string) => dnfClient(scratch, "s3env").available(url(`published/${envName}/${repoId}/`), "%{name}-%{version}");
async function debAvailable(envName: string): Promise<string[]> {
  const client = await aptClient(scratch, { uri: url(`published/${envName}/deb/`), dist: DIST, components: ["main"], keyring: key.keyring });
  await client.update();
  return client.available();
}

async function keys(prefix: string): Promise<string[]> {
  return (await listS3Keys(endpoint, BUCKET, `${PREFIX}/${prefix}`)).map((k) => k.slice(PREFIX.length + 1 + prefix.length));
}

const packageKeys = async (envName: string, repoId: string) => (await keys(`published/${envName}/${repoId}/`)).filter((k) => /\.(rpm|deb)$/.test(k));

async function cli(...args: string[]) {
  return env.cli(...args);
}

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Upstream at version 1.0 (A), 1.1 (B) or 1.2 (C): rpm1 upgrades, rpm2 gains a package from B on, deb upgrades alpha. */
async function writeUpstream(version: "1.0" | "1.1" | "1.2"): Promise<void> {
  await writeEnvironmentsUpstream(upstream, key, version, version === "1.0" ? 1 : 2);
}

/**
 * s3rver writes an object in place (it truncates the file, then streams into it), so a GET of an index key while a
 * switch overwrites it may answer 404, 500 or a short body; S3 replaces an object atomically. Index reads are
 * retried on that; package keys are never overwritten in these tests, so a package the index names must be there.
 */
async function readIndex(url: string, gz: boolean): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetch(url);
      if (r.status === 200) {
        const body = Buffer.from(await r.arrayBuffer());
        const text = (gz ? gunzipSync(body) : body).toString("utf8");
        if (text.trimEnd().endsWith(">")) return text;
      }
    } catch {
      // a short gzip body: s3rver mid-write
    }
    if (attempt >= 50) throw new Error(`${url}: no whole index after 50 reads`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every package the member's primary (as served now) names that is not in the bucket: an index never names a missing package. */
async function missingPackages(envName: string, repoId: string): Promise<string[]> {
  const base = url(`published/${envName}/${repoId}/`);
  const xml = await readIndex(`${base}repodata/repomd.xml`, false);
  const primary = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(xml)?.[1];
  if (!primary) return ["repomd.xml names no primary"];
  const hrefs = [...(await readIndex(base + primary, true)).matchAll(/<location href="([^"]+)"/g)].map((m) => m[1]!);
  const missing: string[] = [];
  for (const h of hrefs) if ((await fetch(base + h, { method: "HEAD" })).status !== 200) missing.push(h);
  return missing;
}

describeWithTools(["dnf", ...APT_TOOLS], "lifecycle environments on the S3 backend (s3rver), read by dnf and apt-get over HTTP", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "chantal-envs-s3-"));
    upstream = join(scratch, "upstream");
    ({ server: s3, endpoint } = await startS3rver(join(scratch, "s3rver"), [BUCKET]));
    key = await createGpgKey(join(scratch, "keys"));
    await writeUpstream("1.0");
    env = await startSyncEnvironment({
      upstream,
      repoYaml: (u) => environmentsRepoYaml(u, key.keyring, url("published/")),
    });
    const configFile = join(env.configDir, "config.yaml");
    const storage = `storage:\n  backend: s3\n  s3:\n    bucket: ${BUCKET}\n    prefix: ${PREFIX}\n    region: us-east-1\n    endpoint: ${endpoint}\n    force_path_style: true\n`;
    writeFileSync(configFile, readFileSync(configFile, "utf8").replace("storage:\n", storage));
    await ok("repo", "sync", "--all");
    await ok("snapshot", "create", "--group", "el", "--name", "A");
  }, 180_000);

  afterAll(async () => {
    await env?.close();
    await key?.dispose();
    await s3?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("promotes A to test, then prod; dnf and apt-get read prod/<repo-id>/ from the bucket; bad input is refused", async () => {
    const outOfOrder = await cli("promote", "--group", "el", "--snapshot", "A", "--to", "prod");
    expect(outOfOrder.code).toBe(1);
    expect(outOfOrder.stderr).toMatch(/snapshot A of group el is not in test \(nothing is promoted there\): promote it to test first, or add --force/);
    expect(await keys("published/prod/")).toEqual([]);

    expect(await ok("promote", "--group", "el", "--snapshot", "A", "--to", "test")).toMatch(
      new RegExp(`promoted snapshot A of group el to test .*: s3://${BUCKET}/${PREFIX}/published/test/`),
    );
    const toProd = JSON.parse(await ok("promote", "--group", "el", "--snapshot", "A", "--to", "prod", "--json"));
    expect(toProd.promotion).toMatchObject({ environment: "prod", snapshot_name: "A", kind: "promote" });
    expect(toProd.path).toBe(`s3://${BUCKET}/${PREFIX}/published/prod/`);

    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.0", "pkg000001-1.0"]);
    expect(await rpmAvailable("rpm2", "prod")).toEqual(["other000000-1.0"]);
    expect(await debAvailable("prod")).toEqual(["alpha=1.0-1"]);
    // The member trees hold what the published snapshot holds, byte for byte.
    for (const repo of ["rpm1", "rpm2", "deb"]) expect(await keys(`published/prod/${repo}/`)).toEqual(await keys(`published/${repo}/snapshots/A/`));
    const doc = JSON.parse((await (await fetch(url("environments/prod.json"))).text()) as string);
    expect(Object.fromEntries(Object.entries(doc.current).map(([r, s]) => [r, (s as { snapshot: string }).snapshot]))).toEqual({
      deb: "A",
      rpm1: "A",
      rpm2: "A",
    });
    expect(await ok("promote", "--group", "el", "--snapshot", "A", "--to", "prod")).toMatch(/already serves snapshot A/);

    const show = await ok("environment", "show", "--env", "prod", "--group", "el");
    expect(show).toContain(`baseurl=${url("published/prod/rpm1/")}`);
    expect(show).toContain(`s3://${BUCKET}/${PREFIX}/published/prod/rpm1/`);

    const environment = await cli("promote", "--group", "el", "--snapshot", "A", "--to", "prd");
    expect(environment.code).toBe(2);
    expect(environment.stderr).toMatch(/unknown environment "prd": did you mean "prod"\?/);
    const snapshot = await cli("promote", "--group", "el", "--snapshot", "Z", "--to", "test");
    expect(snapshot.code).toBe(1);
    expect(snapshot.stderr).toMatch(/group el has no snapshot named "Z"/);
    await ok("snapshot", "create", "--group", "solo", "--name", "S");
    const twoGroups = await cli("promote", "--group", "solo", "--snapshot", "S", "--to", "prod", "--force");
    expect(twoGroups.code).toBe(1);
    expect(twoGroups.stderr).toMatch(/repository rpm1 is already in prod through group el/);
    const used = await cli("snapshot", "delete", "--repo-id", "rpm1", "--name", "A");
    expect(used.code).toBe(1);
    expect(used.stderr).toMatch(/snapshot A of rpm1 is used by environment\(s\) prod \(group el\)/);
  }, 240_000);

  it("B to prod: clients see B, A's objects stay readable; rollback returns to A; the next promotion deletes what neither state uses", async () => {
    await writeUpstream("1.1");
    await ok("repo", "sync", "--all");
    await ok("snapshot", "create", "--group", "el", "--name", "B");
    await ok("promote", "--group", "el", "--snapshot", "B", "--to", "test");
    await ok("promote", "--group", "el", "--snapshot", "B", "--to", "prod");
    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.1", "pkg000001-1.1"]);
    expect(await rpmAvailable("rpm2", "prod")).toEqual(["other000000-1.0", "other000001-1.0"]);
    expect(await debAvailable("prod")).toEqual(["alpha=1.1-1"]);
    // A client that read A's index a moment ago can still download A's packages.
    const rpm1 = await packageKeys("prod", "rpm1");
    expect(rpm1.filter((k) => k.includes("-1.0-"))).toHaveLength(2);
    expect(rpm1.filter((k) => k.includes("-1.1-"))).toHaveLength(2);
    for (const k of rpm1) expect((await fetch(url(`published/prod/rpm1/${k}`), { method: "HEAD" })).status).toBe(200);
    expect((await packageKeys("prod", "deb")).map((k) => k.replace(/.*\//, ""))).toEqual(["alpha_1.0-1_all.deb", "alpha_1.1-1_all.deb"]);

    expect(await ok("promote", "rollback", "--group", "el", "--env", "prod")).toMatch(/rolled back group el in prod to snapshot A/);
    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.0", "pkg000001-1.0"]);
    expect(await rpmAvailable("rpm2", "prod")).toEqual(["other000000-1.0"]);
    expect(await debAvailable("prod")).toEqual(["alpha=1.0-1"]);
    expect(await packageKeys("prod", "rpm1")).toEqual(rpm1);

    // C: the state before it (A) stays, B's own objects go; rpm2's other000001 is in B and C, so it stays.
    await writeUpstream("1.2");
    await ok("repo", "sync", "--all");
    await ok("snapshot", "create", "--group", "el", "--name", "C");
    await ok("promote", "--group", "el", "--snapshot", "C", "--to", "prod", "--force");
    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.2", "pkg000001-1.2"]);
    const after = await packageKeys("prod", "rpm1");
    expect(after.filter((k) => k.includes("-1.1-"))).toEqual([]);
    expect(after.filter((k) => k.includes("-1.0-"))).toHaveLength(2);
    expect(after.filter((k) => k.includes("-1.2-"))).toHaveLength(2);
    expect((await packageKeys("prod", "deb")).map((k) => k.replace(/.*\//, ""))).toEqual(["alpha_1.0-1_all.deb", "alpha_1.2-1_all.deb"]);
    expect(await keys("published/prod/rpm1/repodata/")).toEqual(
      [...(await keys("published/rpm1/snapshots/A/repodata/")), ...(await keys("published/rpm1/snapshots/C/repodata/"))]
        .filter((k, i, all) => all.indexOf(k) === i)
        .sort(),
    );
    const history = JSON.parse(await ok("promote", "history", "--group", "el", "--env", "prod", "--json"));
    expect(history.map((h: { kind: string; snapshot_name: string }) => `${h.kind} ${h.snapshot_name}`)).toEqual([
      "promote C",
      "rollback A",
      "promote B",
      "promote A",
    ]);
  }, 300_000);

  it("pool gc and storage usage leave the environment trees alone", async () => {
    const before = await keys("published/prod/");
    await ok("pool", "gc");
    expect(await keys("published/prod/")).toEqual(before);
    await ok("storage", "usage");
    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.2", "pkg000001-1.2"]);
  });

  it("a lost index, then a lost state document: a promotion that switches nothing serves the recorded state again", async () => {
    const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });
    const remove = (k: string) => client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/${k}` }));
    try {
      await remove("published/prod/rpm1/repodata/repomd.xml");
      expect((await fetch(url("published/prod/rpm1/repodata/repomd.xml"))).status).toBe(404);
      expect(await ok("promote", "--group", "el", "--snapshot", "C", "--to", "prod", "--force")).toMatch(/already serves snapshot C/);
      expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.2", "pkg000001-1.2"]);
      // The document was intact: the state before (A) is still kept.
      expect((await packageKeys("prod", "rpm1")).filter((k) => k.includes("-1.0-"))).toHaveLength(2);

      await remove("environments/prod.json");
      await remove("published/prod/deb/dists/stable/InRelease");
      expect(await ok("promote", "--group", "el", "--snapshot", "C", "--to", "prod", "--force")).toMatch(/already serves snapshot C/);
      expect(await debAvailable("prod")).toEqual(["alpha=1.2-1"]);
      expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.2", "pkg000001-1.2"]);
      expect((await fetch(url("environments/prod.json"))).status).toBe(200);
      // Without a document nothing vouches for the state before: only C's objects are kept.
      expect((await packageKeys("prod", "rpm1")).filter((k) => !k.includes("-1.2-"))).toEqual([]);
    } finally {
      client.destroy();
    }
  });

  it("a reader polling prod during promotions and rollbacks never finds an index naming a missing package", async () => {
    let stop = false;
    const problems: string[] = [];
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        for (const repo of ["rpm1", "rpm2"]) problems.push(...(await missingPackages("prod", repo)).map((m) => `${repo}: ${m}`));
        reads++;
      }
    })();
    try {
      for (let i = 0; i < 4; i++) await ok("promote", "--group", "el", "--snapshot", i % 2 === 0 ? "B" : "C", "--to", "prod", "--force");
      await ok("promote", "rollback", "--group", "el", "--env", "prod");
    } finally {
      stop = true;
      await reader;
    }
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(2);
    // The last switch was a rollback of C's promotion: B again.
    expect(await rpmAvailable("rpm1", "prod")).toEqual(["pkg000000-1.1", "pkg000001-1.1"]);
  }, 300_000);
});
