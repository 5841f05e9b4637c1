// The real CLI syncing RPM repositories whose primary.xml is hostile or inconsistent: every case is refused while
// parsing or planning, naming the package, before anything is downloaded or published (issue 12, points 17 and 20).
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { generateRpmRepo } from "../fixtures/rpm-repo-generator.js";
import { runWithInput } from "../helpers/rpm-fixtures.js";
import { startSyncEnvironment, type SyncEnvironment } from "../helpers/sync-env.js";
import { toolMissing } from "../helpers/tools.js";

const upstreams: string[] = [];
const envs: SyncEnvironment[] = [];
afterEach(async () => {
  for (const e of envs.splice(0)) await e.close();
});
afterAll(() => {
  for (const u of upstreams) rmSync(u, { recursive: true, force: true });
});

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** Replaces the primary of a generated repository with `data` (at `href`) and updates its <data> in repomd.xml. */
function replacePrimary(upstream: string, href: string, data: Buffer, open: { size: number; sha256: string }): void {
  rmSync(join(upstream, "repodata/primary.xml.gz"));
  writeFileSync(join(upstream, href), data);
  const repomdPath = join(upstream, "repodata/repomd.xml");
  const repomd = readFileSync(repomdPath, "utf8").replace(
    /<data type="primary">[\s\S]*?<\/data>/,
    () =>
      `<data type="primary">\n    <checksum type="sha256">${sha256(data)}</checksum>\n    <open-checksum type="sha256">${open.sha256}</open-checksum>\n` +
      `    <location href="${href}"/>\n    <timestamp>1700000000</timestamp>\n    <size>${data.length}</size>\n    <open-size>${open.size}</open-size>\n  </data>`,
  );
  writeFileSync(repomdPath, repomd);
}

async function environment(edit: (xml: string) => string): Promise<SyncEnvironment> {
  const upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
  upstreams.push(upstream);
  await generateRpmRepo(upstream, 3, 500);
  const xml = Buffer.from(edit(gunzipSync(readFileSync(join(upstream, "repodata/primary.xml.gz"))).toString()));
  replacePrimary(upstream, "repodata/primary.xml.gz", gzipSync(xml), { size: xml.length, sha256: sha256(xml) });
  const env = await startSyncEnvironment({ upstream });
  envs.push(env);
  return env;
}

const P1 = "Packages/1/pkg000001-1.0-1.noarch.rpm";
const P2 = "Packages/2/pkg000002-1.0-1.noarch.rpm";

describe("repo sync (rpm) refuses inconsistent or hostile primary.xml while parsing or planning", () => {
  it.each([
    [
      "one location listed twice with different checksums",
      (xml: string) => xml.replace(`href="${P2}"`, `href="${P1}"`),
      new RegExp(
        `repodata/primary\\.xml\\.gz of repository r1: ${P1} is listed twice with different checksums \\(pkg000001-1\\.0-1\\.noarch sha256:[0-9a-f]{64}, pkg000002-1\\.0-1\\.noarch sha256:[0-9a-f]{64}\\)`,
      ),
    ],
    [
      "a newline in <name>",
      (xml: string) => xml.replace("<name>pkg000001</name>", "<name>pkg\n000001</name>"),
      /package "pkg\\n000001-1\.0-1\.noarch" has whitespace or a control character in <name>: "pkg\\n000001"/,
    ],
    [
      "a 15-digit epoch",
      (xml: string) => xml.replace(/(<name>pkg000001<\/name><arch>noarch<\/arch><version epoch=")0/, "$1123456789012345"),
      /package pkg000001-1\.0-1\.noarch has an epoch 123456789012345 larger than 2147483647/,
    ],
    [
      "a package at a metadata path",
      (xml: string) => xml.replace(`href="${P1}"`, 'href="repodata/repomd.xml"'),
      /repository r1: package pkg000001-1\.0-1\.noarch \(repodata\/repomd\.xml\) has the same path as metadata file repodata\/repomd\.xml/,
    ],
    [
      "locations a and a/b.rpm",
      (xml: string) => xml.replace(`href="${P1}"`, 'href="Packages/x"').replace(`href="${P2}"`, 'href="Packages/x/b.rpm"'),
      /repository r1: package pkg000001-1\.0-1\.noarch \(Packages\/x\) is a file where package pkg000002-1\.0-1\.noarch \(Packages\/x\/b\.rpm\) needs a directory/,
    ],
  ])("%s", async (_what, edit, message) => {
    const env = await environment(edit);
    const r = await env.cli("repo", "sync", "--repo-id", "r1");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/out of range for type integer|EEXIST|ENOTDIR/);
    // Refused before any package was requested, and nothing was published or recorded.
    expect(env.server.requests.filter((q) => q.path.includes("/Packages/"))).toEqual([]);
    expect(existsSync(env.published("r1"))).toBe(false);
    const rows = await env.pg.query(`SELECT count(*)::int AS n FROM chantal.packages`);
    expect(rows.rows[0].n).toBe(0);
  });

  it.skipIf(toolMissing("xz"))(
    "refuses an xz primary that decompresses beyond its <open-size> at once (a 1 GiB bomb)",
    async () => {
      const upstream = mkdtempSync(join(tmpdir(), "chantal-up-"));
      upstreams.push(upstream);
      await generateRpmRepo(upstream, 3, 500);
      const xml = gunzipSync(readFileSync(join(upstream, "repodata/primary.xml.gz")));
      // Well-formed as far as it goes: elements between runs of spaces, which the parser has to read byte by byte.
      const head = Buffer.from(xml.toString().replace("</metadata>\n", ""));
      const member = await runWithInput("xz", ["-c", "-0", "-T1"], Buffer.from(`<x/>${" ".repeat(1020)}`.repeat(64 * 1024)));
      const bomb = Buffer.concat([await runWithInput("xz", ["-c", "-T1"], head), ...Array.from({ length: 16 }, () => member)]);
      replacePrimary(upstream, "repodata/primary.xml.xz", bomb, { size: xml.length, sha256: sha256(xml) });
      const env = await startSyncEnvironment({ upstream });
      envs.push(env);
      const r = await env.cli("repo", "sync", "--repo-id", "r1");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`repodata/primary.xml.xz: decompresses to more than the ${xml.length} bytes of its <open-size> in repomd.xml; refusing it`);
      expect(existsSync(env.published("r1"))).toBe(false);
    },
    120_000,
  );
});
