// Real RPM repositories for tests: .rpm files from rpmbuild, repodata from createrepo_c, and a
// synthetic primary.xml generator for size tests.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export async function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
}

export interface RpmSpec {
  /** Directory the .rpm is written to (created if missing). */
  dir: string;
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch?: "noarch";
  /** Size of the one payload file; its content is derived from the name, so rebuilds are alike. */
  payloadBytes?: number;
  /** Requires: / Provides: lines, e.g. "beta >= 2" or "/usr/bin/c". */
  requires?: string[];
  provides?: string[];
  /** Extra files the package ships (absolute paths), e.g. "/usr/bin/c" for a file dependency. */
  files?: string[];
  /** Build the source package (<name>-<version>-<release>.src.rpm) instead of the binary one. */
  source?: boolean;
}

function specText(p: RpmSpec): string {
  const bytes = p.payloadBytes ?? 16;
  return [
    `Name: ${p.name}`,
    `Version: ${p.version}`,
    `Release: ${p.release}`,
    ...(p.epoch !== undefined ? [`Epoch: ${p.epoch}`] : []),
    `Summary: Chantal test package ${p.name}`,
    "License: MIT",
    `BuildArch: ${p.arch ?? "noarch"}`,
    ...(p.requires ?? []).map((r) => `Requires: ${r}`),
    ...(p.provides ?? []).map((r) => `Provides: ${r}`),
    // Our own test packages: no automatic dependencies (interpreters of scripts) to satisfy.
    "AutoReqProv: no",
    // Speed: no compression work, no debuginfo, no brp scripts, no build-id links.
    "%define _binary_payload w1.gzdio",
    "%define debug_package %{nil}",
    "%define __os_install_post %{nil}",
    "%define _build_id_links none",
    "%description",
    `Test package ${p.name} for Chantal.`,
    "%install",
    `mkdir -p %{buildroot}/usr/share/chantal-test/${p.name}`,
    `yes '${p.name}' | head -c ${bytes} > %{buildroot}/usr/share/chantal-test/${p.name}/payload`,
    ...(p.files ?? []).flatMap((f) => [`mkdir -p %{buildroot}$(dirname ${f})`, `echo '${p.name}' > %{buildroot}${f}`]),
    "%files",
    `/usr/share/chantal-test/${p.name}`,
    ...(p.files ?? []),
    "",
  ].join("\n");
}

/** Builds a noarch .rpm with rpmbuild and returns its path: <dir>/<name>-<version>-<release>.noarch.rpm. */
export async function buildRpm(p: RpmSpec): Promise<string> {
  const top = await mkdtemp(join(tmpdir(), "chantal-rpmbuild-"));
  try {
    await mkdir(p.dir, { recursive: true });
    const spec = join(top, `${p.name}.spec`);
    await writeFile(spec, specText(p));
    await run("rpmbuild", [
      p.source ? "-bs" : "-bb",
      "--nodeps",
      "--quiet",
      "--define",
      `_topdir ${top}`,
      "--define",
      `_rpmdir ${p.dir}`,
      "--define",
      `_srcrpmdir ${p.dir}`,
      "--define",
      "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
      spec,
    ]);
    return join(p.dir, `${p.name}-${p.version}-${p.release}.${p.source ? "src" : (p.arch ?? "noarch")}.rpm`);
  } finally {
    await rm(top, { recursive: true, force: true });
  }
}

export interface CreateRepoOptions {
  checksum?: "sha1" | "sha256" | "sha512";
  compress?: "gz" | "xz" | "zstd" | "bz2";
}

async function runCreaterepo(dir: string, checksum: string, compress: string): Promise<void> {
  await run("createrepo_c", ["--quiet", "--no-database", "--checksum", checksum, "--general-compress-type", compress, dir]);
}

/**
 * Runs createrepo_c on dir (packages in subfolders included) and returns the path of repomd.xml.
 * createrepo_c before 0.20 (Debian 12 ships 0.17) cannot write zstd: then the gzip repodata is
 * recompressed with the zstd tool and repomd.xml updated, as a newer createrepo_c would have written it.
 */
export async function createRepo(dir: string, opts: CreateRepoOptions = {}): Promise<string> {
  const checksum = opts.checksum ?? "sha256";
  const compress = opts.compress ?? "gz";
  try {
    await runCreaterepo(dir, checksum, compress);
  } catch (err) {
    if (compress !== "zstd" || !/compression type/i.test(String(err))) throw err;
    await runCreaterepo(dir, checksum, "gz");
    await recompressRepodata(dir, checksum);
  }
  return join(dir, "repodata", "repomd.xml");
}

function fileDigest(algo: string, data: Buffer): string {
  return createHash(algo === "sha1" ? "sha1" : algo)
    .update(data)
    .digest("hex");
}

/** Replaces every .xml.gz data file with .xml.zst and rewrites its <checksum>, <size> and <location> in repomd.xml. */
async function recompressRepodata(dir: string, checksum: string): Promise<void> {
  const repomdPath = join(dir, "repodata", "repomd.xml");
  let repomd = await readFile(repomdPath, "utf8");
  const hrefs = [...repomd.matchAll(/<location href="(repodata\/([^"]+)\.xml\.gz)"\/>/g)];
  for (const [, href, stem] of hrefs) {
    const oldPath = join(dir, href!);
    const xml = gunzipSync(await readFile(oldPath));
    const zst = Buffer.from(await runWithInput("zstd", ["-q", "-c", "-19"], xml));
    const type = stem!.replace(/^[0-9a-f]+-/, "");
    const digest = fileDigest(checksum, zst);
    const newHref = `repodata/${digest}-${type}.xml.zst`;
    await writeFile(join(dir, newHref), zst);
    await rm(oldPath);
    const oldDigest = /^([0-9a-f]+)-/.exec(stem!)![1]!;
    const block = new RegExp(`(<data type="${type}">[\\s\\S]*?</data>)`).exec(repomd)![1]!;
    const updated = block
      .replace(`<checksum type="${checksum}">${oldDigest}</checksum>`, `<checksum type="${checksum}">${digest}</checksum>`)
      .replace(`href="${href}"`, `href="${newHref}"`)
      .replace(/<size>\d+<\/size>/, `<size>${zst.length}</size>`);
    repomd = repomd.replace(block, updated);
  }
  await writeFile(repomdPath, repomd);
}

/** Runs a command with stdin and returns its stdout as bytes. */
export function runWithInput(cmd: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr}`))));
    child.stdin.end(input);
  });
}

/** The files in repodata/, for tests that look for one by its suffix. */
export async function repodataFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, "repodata"))).map((f) => join(dir, "repodata", f));
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Deterministic 64-hex "checksum" for synthetic package i. */
export function syntheticSha256(i: number): string {
  return i.toString(16).padStart(8, "0").repeat(8);
}

/** One <package> much like createrepo_c writes it, with a few provides/requires and files. */
export function syntheticPackageXml(i: number): string {
  const name = `pkg${i}`;
  return `<package type="rpm">
  <name>${name}</name>
  <arch>x86_64</arch>
  <version epoch="${i % 3}" ver="1.${i % 100}.${i}" rel="${(i % 7) + 1}.el9"/>
  <checksum type="sha256" pkgid="YES">${syntheticSha256(i)}</checksum>
  <summary>Synthetic package ${i} &amp; friends</summary>
  <description>A synthetic package used to test streaming parsing of a large primary.xml.</description>
  <packager>Chantal Tests</packager>
  <url>https://example.invalid/${name}</url>
  <time file="1700000000" build="1690000000"/>
  <size package="${1000 + i}" installed="${4000 + i}" archive="${4500 + i}"/>
  <location href="Packages/${name[3] ?? "p"}/${escapeXml(name)}-1.${i % 100}.${i}-${(i % 7) + 1}.el9.x86_64.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor>Chantal</rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>build.example.invalid</rpm:buildhost>
    <rpm:sourcerpm>${name}-1.0-1.el9.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="${6000 + i}"/>
    <rpm:provides>
      <rpm:entry name="${name}" flags="EQ" epoch="0" ver="1.${i % 100}.${i}" rel="1.el9"/>
      <rpm:entry name="${name}(x86-64)" flags="EQ" epoch="0" ver="1.${i % 100}.${i}" rel="1.el9"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="libc.so.6()(64bit)"/>
      <rpm:entry name="rtld(GNU_HASH)"/>
    </rpm:requires>
    <file>/usr/bin/${name}</file>
  </format>
</package>
`;
}

/** A primary.xml of n synthetic packages, produced in pieces so the whole document never exists in memory. */
export async function* syntheticPrimaryXml(n: number, packagesPerPiece = 200): AsyncGenerator<Buffer> {
  yield Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="${n}">\n`,
  );
  for (let i = 0; i < n; i += packagesPerPiece) {
    let piece = "";
    for (let j = i; j < Math.min(n, i + packagesPerPiece); j++) piece += syntheticPackageXml(j);
    yield Buffer.from(piece);
  }
  yield Buffer.from("</metadata>\n");
}
