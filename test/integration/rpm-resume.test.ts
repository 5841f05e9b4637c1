// A rerun after a failure or a kill fetches nothing the pool already holds: metadata files, and (sha512 repositories) packages not yet recorded.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import type { FaultPlan } from "../helpers/http-server.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { until } from "../helpers/wait.js";

const upstreams: string[] = [];
const envs: SyncEnvironment[] = [];

async function environment(count: number, opts: { faults?: FaultPlan; sha512?: boolean } = {}): Promise<SyncEnvironment> {
  const upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
  upstreams.push(upstream);
  await generateRpmRepo(upstream, count, 16_384);
  if (opts.sha512) toSha512(upstream);
  const env = await startSyncEnvironment({ upstream, ...(opts.faults ? { faults: opts.faults } : {}) });
  envs.push(env);
  return env;
}

afterEach(async () => {
  for (const e of envs.splice(0)) await e.close();
});
afterAll(() => {
  for (const u of upstreams) rmSync(u, { recursive: true, force: true });
});

/** A PATH whose `sync` takes half a second before it runs the real one. */
function slowSyncPath(): NodeJS.ProcessEnv {
  const bin = mkdtempSync(join(tmpdir(), "chantal-slow-sync-"));
  upstreams.push(bin);
  writeFileSync(join(bin, "sync"), `#!/bin/sh\nsleep 0.5\nPATH=${JSON.stringify(process.env.PATH ?? "/usr/bin:/bin")} exec sync "$@"\n`, { mode: 0o755 });
  return { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };
}

const sha512 = (data: Buffer) => createHash("sha512").update(data).digest("hex");

/** Rewrite a generated repository to declare sha512 everywhere (packages and data files), as `createrepo_c --checksum sha512` does. */
function toSha512(dir: string): void {
  const primaryPath = join(dir, "repodata/primary.xml.gz");
  const xml = gunzipSync(readFileSync(primaryPath))
    .toString()
    .replace(
      /<checksum type="sha256" pkgid="YES">[0-9a-f]{64}<\/checksum>([\s\S]*?)<location href="([^"]+)"\/>/g,
      (_m, between: string, href: string) =>
        `<checksum type="sha512" pkgid="YES">${sha512(readFileSync(join(dir, href)))}</checksum>${between}<location href="${href}"/>`,
    );
  writeFileSync(primaryPath, gzipSync(Buffer.from(xml)));
  const repomdPath = join(dir, "repodata/repomd.xml");
  let repomd = readFileSync(repomdPath, "utf8");
  for (const type of ["primary", "filelists", "other"]) {
    const file = readFileSync(join(dir, `repodata/${type}.xml.gz`));
    repomd = repomd.replace(new RegExp(`(<data type="${type}">[\\s\\S]*?</data>)`), (block: string) =>
      block
        .replace(/<checksum type="sha256">[0-9a-f]+<\/checksum>/, `<checksum type="sha512">${sha512(file)}</checksum>`)
        .replace(/<open-checksum type="sha256">[0-9a-f]+<\/open-checksum>/, `<open-checksum type="sha512">${sha512(gunzipSync(file))}</open-checksum>`)
        .replace(/<size>\d+<\/size>/, `<size>${file.length}</size>`)
        .replace(/<open-size>\d+<\/open-size>/, `<open-size>${gunzipSync(file).length}</open-size>`),
    );
  }
  writeFileSync(repomdPath, repomd);
}

const metadataRequests = (env: SyncEnvironment) => env.server.requests.filter((r) => /repodata\/(primary|filelists|other)\.xml\.gz$/.test(r.path)).length;
const packageBlobs = (env: SyncEnvironment) => env.poolFiles().length - 4; // primary, filelists, other, repomd.xml

describe("counts and retries of a run", () => {
  it("a failed run reports and records what it downloaded", async () => {
    const env = await environment(10, { faults: { "/Packages/9/pkg000009-1.0-1.noarch.rpm": { delayMs: 1_500, status: 404 } } });
    const failed = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(failed.code).toBe(1);
    expect(packageBlobs(env)).toBe(9);
    expect(JSON.parse(failed.stdout)).toMatchObject({ status: "failed", counts: { packages_total: 10, packages_downloaded: 9, bytes_downloaded: 9 * 16_384 } });
    const row = (await env.pg.query(`SELECT status, packages_downloaded, bytes_downloaded FROM chantal.sync_runs ORDER BY id DESC LIMIT 1`)).rows[0];
    expect(row).toMatchObject({ status: "failed", packages_downloaded: 9, bytes_downloaded: String(9 * 16_384) });
  });

  it("a checksum mismatch that is retried says so: a retrying line with the URL and the reason", async () => {
    const env = await environment(3, { faults: { "/Packages/1/pkg000001-1.0-1.noarch.rpm": { corrupt: true } } });
    const r = await env.cli("repo", "sync", "--repo-id", "r1");
    expect(r.code).toBe(0);
    const retry = r.stderr
      .split("\n")
      .filter((l) => l.includes('"msg":"retrying"'))
      .map((l) => JSON.parse(l));
    expect(retry).toHaveLength(1);
    expect(retry[0]).toMatchObject({ repo: "r1", url: `${env.server.url}/Packages/1/pkg000001-1.0-1.noarch.rpm`, attempt: 1 });
    expect(retry[0].error).toMatch(/checksum mismatch for pkg000001-1\.0-1\.noarch/);
  });
});

describe("reruns use the pool", () => {
  it.each([{ sha512: false }, { sha512: true }])(
    "metadata files pooled by a failed run are not fetched again (sha512: $sha512)",
    async ({ sha512: useSha512 }) => {
      const env = await environment(5, { sha512: useSha512, faults: { "/Packages/3/pkg000003-1.0-1.noarch.rpm": { status: 404 } } });
      const failed = await env.cli("repo", "sync", "--repo-id", "r1");
      expect(failed.code).toBe(1);
      expect(metadataRequests(env)).toBe(3);
      const pooled = packageBlobs(env);
      const again = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ status: "success", counts: { packages_downloaded: 5 - pooled } });
      expect(metadataRequests(env)).toBe(3);
    },
  );

  it("sha512: packages pooled just before kill -9, not yet in the database, are not downloaded again", async () => {
    const COUNT = 24;
    const env = await environment(COUNT, { sha512: true, faults: (req) => (req.path.endsWith(".rpm") ? { chunkBytes: 4096, chunkDelayMs: 40 } : undefined) });
    // A slow syncfs holds each batch between its renames into the pool and its rows: the kill lands in that window.
    const run = env.spawnWith(slowSyncPath(), "repo", "sync", "--repo-id", "r1");
    await until("3 pooled packages", () => packageBlobs(env) >= 3, 30_000, 5);
    run.child.kill("SIGKILL");
    await run.result;
    const pooled = packageBlobs(env);
    const recorded = (await env.pg.query(`SELECT count(*)::int AS n FROM chantal.packages`)).rows[0].n as number;
    // What this test is about: blobs in the pool that the database does not know yet.
    expect(recorded).toBeLessThan(pooled);

    const again = await env.cli("repo", "sync", "--repo-id", "r1", "--json");
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout);
    expect(result.status).toBe("success");
    expect(result.counts.packages_downloaded).toBe(COUNT - pooled);
    expect(packageBlobs(env)).toBe(COUNT);
    // Every alias is in the database now: the journals are gone with the temp files.
    expect(env.tempFiles()).toEqual([]);
  });
});
