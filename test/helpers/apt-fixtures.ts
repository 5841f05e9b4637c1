// Real APT repositories for tests: .deb files from dpkg-deb, source packages from dpkg-source, indices from
// dpkg-scanpackages / dpkg-scansources, Release from apt-ftparchive, signatures from a GnuPG key made at
// test time; and a sandboxed apt-get that reads a published tree.
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { spawn } from "node:child_process";
import { run } from "./rpm-fixtures.js";

export const APT_TOOLS = ["dpkg-deb", "dpkg-scanpackages", "dpkg-scansources", "dpkg-source", "apt-ftparchive", "gpg", "apt-get", "xz"] as const;

/** Runs a command with optional stdin and returns its stdout; a command that does not read stdin is fine. */
export function runWithInput(cmd: string, args: string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input ? "pipe" : "ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => out.push(c));
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr}`))));
    if (input) {
      child.stdin!.on("error", () => undefined);
      child.stdin!.end(input);
    }
  });
}

// ------------------------------------------------------------------------------------------------ GnuPG

export interface GpgKey {
  home: string;
  fingerprint: string;
  /** `gpg --export`: a binary OpenPGP keyring, as /usr/share/keyrings/*.gpg. */
  keyring: string;
  /** `gpg --armor --export`. */
  armored: string;
  /** Stops the gpg-agent this key's home started and removes the home. */
  dispose(): Promise<void>;
}

async function gpg(home: string, args: string[], input?: Buffer): Promise<Buffer> {
  const full = ["--homedir", home, "--batch", "--no-tty", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "", ...args];
  return runWithInput("gpg", full, input);
}

/** A fresh signing key without a passphrase in its own GNUPGHOME; its public key exported both ways into `dir`. */
export async function createGpgKey(dir: string, opts: { name?: string; algo?: string } = {}): Promise<GpgKey> {
  const home = await mkdtemp(join(tmpdir(), "ct-gpg-"));
  const name = opts.name ?? "Chantal Test Archive";
  await gpg(home, ["--quick-gen-key", `${name} <archive@test.invalid>`, opts.algo ?? "ed25519", "sign", "never"]);
  const colons = (await gpg(home, ["--list-keys", "--with-colons"])).toString();
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  await mkdir(dir, { recursive: true });
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  const keyring = join(dir, `${slug}.gpg`);
  const armored = join(dir, `${slug}.asc`);
  await writeFile(keyring, await gpg(home, ["--export", fingerprint]));
  await writeFile(armored, await gpg(home, ["--armor", "--export", fingerprint]));
  return {
    home,
    fingerprint,
    keyring,
    armored,
    async dispose() {
      await run("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}

export async function clearsign(key: GpgKey, data: Buffer): Promise<Buffer> {
  return gpg(key.home, ["--local-user", key.fingerprint, "--digest-algo", "SHA256", "--clearsign"], data);
}

export async function detachSign(key: GpgKey, data: Buffer): Promise<Buffer> {
  return gpg(key.home, ["--local-user", key.fingerprint, "--digest-algo", "SHA256", "--armor", "--detach-sign"], data);
}

// ------------------------------------------------------------------------------------------------ packages

export interface DebSpec {
  name: string;
  /** Debian version, epoch allowed ("1:2.0-1"). */
  version: string;
  arch?: string;
  component?: string;
  payloadBytes?: number;
  /** Relation fields of the control file, as written there (e.g. "libfoo (>= 1.0) | libfoo-compat"). */
  depends?: string;
  preDepends?: string;
  provides?: string;
  /** A Source field (e.g. "app (1.0)"), when the binary is named apart from its source. */
  source?: string;
}

/** pool/<component>/<initial>/<name>/<name>_<version without epoch>_<arch>.deb */
export function debLocation(spec: DebSpec): string {
  const version = spec.version.replace(/^\d+:/, "");
  return `pool/${spec.component ?? "main"}/${spec.name[0]}/${spec.name}/${spec.name}_${version}_${spec.arch ?? "all"}.deb`;
}

/** Builds a .deb with dpkg-deb into <root>/<debLocation>; returns the location. */
export async function buildDeb(root: string, spec: DebSpec): Promise<string> {
  const location = debLocation(spec);
  const work = await mkdtemp(join(tmpdir(), "ct-deb-"));
  try {
    const payloadDir = join(work, "usr", "share", "chantal-test", spec.name);
    await mkdir(join(work, "DEBIAN"), { recursive: true });
    await mkdir(payloadDir, { recursive: true });
    await writeFile(
      join(payloadDir, "payload"),
      `${spec.name} ${spec.version}\n`.repeat(Math.ceil((spec.payloadBytes ?? 64) / (spec.name.length + spec.version.length + 2))),
    );
    await writeFile(
      join(work, "DEBIAN", "control"),
      [
        `Package: ${spec.name}`,
        `Version: ${spec.version}`,
        `Architecture: ${spec.arch ?? "all"}`,
        ...(spec.source ? [`Source: ${spec.source}`] : []),
        ...(spec.preDepends ? [`Pre-Depends: ${spec.preDepends}`] : []),
        ...(spec.depends ? [`Depends: ${spec.depends}`] : []),
        ...(spec.provides ? [`Provides: ${spec.provides}`] : []),
        "Maintainer: Chantal Tests <tests@test.invalid>",
        "Section: misc",
        "Priority: optional",
        `Description: Chantal test package ${spec.name}`,
        " A package built by the Chantal test suite.",
        "",
      ].join("\n"),
    );
    await mkdir(dirname(join(root, location)), { recursive: true });
    await run("dpkg-deb", ["--root-owner-group", "-Zgzip", "-z1", "--build", work, join(root, location)]);
    return location;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Builds a native (3.0 native) source package with dpkg-source into <root>/pool/<component>/<i>/<name>/; returns the .dsc location. */
export async function buildSourcePackage(root: string, spec: { name: string; version: string; component?: string }): Promise<string> {
  const dir = `pool/${spec.component ?? "main"}/${spec.name[0]}/${spec.name}`;
  const work = await mkdtemp(join(tmpdir(), "ct-src-"));
  try {
    const tree = join(work, `${spec.name}-${spec.version}`);
    await mkdir(join(tree, "debian", "source"), { recursive: true });
    await writeFile(join(tree, "README"), `${spec.name} ${spec.version}\n`);
    await writeFile(join(tree, "debian", "source", "format"), "3.0 (native)\n");
    await writeFile(
      join(tree, "debian", "control"),
      `Source: ${spec.name}\nMaintainer: Chantal Tests <tests@test.invalid>\nSection: misc\nPriority: optional\n\nPackage: ${spec.name}\nArchitecture: all\nDescription: Chantal test package ${spec.name}\n test\n`,
    );
    await writeFile(
      join(tree, "debian", "changelog"),
      `${spec.name} (${spec.version}) unstable; urgency=medium\n\n  * Test.\n\n -- Chantal Tests <tests@test.invalid>  Thu, 01 Jun 2023 00:00:00 +0000\n`,
    );
    await writeFile(join(tree, "debian", "rules"), "#!/usr/bin/make -f\n%:\n\tdh $@\n");
    await run("dpkg-source", ["--build", `${spec.name}-${spec.version}`], { cwd: work });
    await mkdir(join(root, dir), { recursive: true });
    const files = (await readdir(work)).filter((f) => f.startsWith(`${spec.name}_`));
    for (const f of files) await copyFile(join(work, f), join(root, dir, f));
    return `${dir}/${files.find((f) => f.endsWith(".dsc"))}`;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------ repository

export interface AptRepoOptions {
  dist: string;
  components?: string[];
  architectures?: string[];
  /** Index compressions to write (default xz and gz); the plain index is listed in Release but, as on Debian mirrors, absent. */
  compress?: ("xz" | "gz" | "bz2")[];
  /** Keep the uncompressed Packages file too. */
  keepPlain?: boolean;
  /** Write Sources indices (dpkg-scansources). */
  sources?: boolean;
  /** Acquire-By-Hash: yes, with by-hash/SHA256 and by-hash/SHA512 copies of every index. */
  byHash?: boolean;
  /** Signs InRelease and Release.gpg with this key; unsigned (Release only) without. */
  signer?: GpgKey;
  /** Which signed files to write (default both). */
  inRelease?: boolean;
  releaseGpg?: boolean;
  /** Inserted into the Release as it is (e.g. "Valid-Until: ..."). */
  extraFields?: string[];
  /** The Release's Date (default: now, as apt-ftparchive writes it). */
  date?: Date;
  /** Rewrites each Packages text before it is compressed (fault tests). */
  editPackages?: (text: string, component: string, arch: string) => string;
}

function sha(algo: string, data: Buffer): string {
  return createHash(algo).update(data).digest("hex");
}

async function writeIndex(dir: string, name: string, text: string, opts: AptRepoOptions): Promise<void> {
  await mkdir(dir, { recursive: true });
  const plain = Buffer.from(text);
  await writeFile(join(dir, name), plain);
  for (const c of opts.compress ?? ["xz", "gz"]) {
    if (c === "gz") await writeFile(join(dir, `${name}.gz`), gzipSync(plain, { level: 9 }));
    if (c === "xz") await writeFile(join(dir, `${name}.xz`), await runWithInput("xz", ["-c", "-6"], plain));
    if (c === "bz2") await writeFile(join(dir, `${name}.bz2`), await runWithInput("bzip2", ["-c"], plain));
  }
}

/** Index files listed in a Release: path -> [sha256, sha512]. */
function releaseHashes(release: string): Map<string, { sha256: string; sha512?: string }> {
  const out = new Map<string, { sha256: string; sha512?: string }>();
  for (const field of ["SHA256", "SHA512"] as const) {
    const block = new RegExp(`^${field}:\\n((?: .*\\n)*)`, "m").exec(release)?.[1] ?? "";
    for (const line of block.split("\n").filter(Boolean)) {
      const [hash, , path] = line.trim().split(/\s+/);
      const entry = out.get(path!) ?? { sha256: "" };
      if (field === "SHA256") entry.sha256 = hash!;
      else entry.sha512 = hash!;
      out.set(path!, entry);
    }
  }
  return out;
}

/**
 * (Re)writes dists/<dist>/ of the repository at `root` from the .deb (and source) files under pool/:
 * Packages (and Sources) per component and architecture, Release by apt-ftparchive, by-hash copies,
 * and InRelease / Release.gpg signed with opts.signer.
 */
export async function writeAptRepo(root: string, opts: AptRepoOptions): Promise<void> {
  const components = opts.components ?? ["main"];
  const architectures = opts.architectures ?? ["amd64"];
  const distDir = join(root, "dists", opts.dist);
  await rm(distDir, { recursive: true, force: true });
  for (const comp of components) {
    const poolDir = `pool/${comp}`;
    const hasPool = await stat(join(root, poolDir)).then(
      () => true,
      () => false,
    );
    for (const arch of architectures) {
      let text = hasPool ? await run("dpkg-scanpackages", ["--multiversion", "--arch", arch, poolDir, "/dev/null"], { cwd: root }) : "";
      if (opts.editPackages) text = opts.editPackages(text, comp, arch);
      const dir = join(distDir, comp, `binary-${arch}`);
      await writeIndex(dir, "Packages", text, opts);
      await writeFile(join(dir, "Release"), `Archive: ${opts.dist}\nComponent: ${comp}\nArchitecture: ${arch}\n`);
    }
    if (opts.sources) {
      const text = hasPool ? await run("dpkg-scansources", [poolDir, "/dev/null"], { cwd: root }) : "";
      await writeIndex(join(distDir, comp, "source"), "Sources", text, opts);
    }
  }
  const field = (name: string, value: string) => ["-o", `APT::FTPArchive::Release::${name}=${value}`];
  let release = await run(
    "apt-ftparchive",
    [
      ...field("Origin", "Chantal"),
      ...field("Label", "Chantal test"),
      ...field("Suite", opts.dist),
      ...field("Codename", opts.dist),
      ...field("Architectures", architectures.join(" ")),
      ...field("Components", components.join(" ")),
      ...(opts.byHash ? field("Acquire-By-Hash", "yes") : []),
      ...(opts.date ? field("Date", opts.date.toUTCString().replace(/GMT$/, "UTC")) : []),
      "release",
      ".",
    ],
    { cwd: distDir },
  );
  if (opts.extraFields?.length) release = release.replace(/^(Date: .*\n)/m, `$1${opts.extraFields.join("\n")}\n`);
  const releaseBytes = Buffer.from(release);
  if (!opts.keepPlain) {
    for (const comp of components) {
      for (const arch of architectures) if ((opts.compress ?? ["xz", "gz"]).length > 0) await rm(join(distDir, comp, `binary-${arch}`, "Packages"));
      if (opts.sources && (opts.compress ?? ["xz", "gz"]).length > 0) await rm(join(distDir, comp, "source", "Sources"));
    }
  }
  if (opts.byHash) {
    for (const [path, { sha256, sha512 }] of releaseHashes(release)) {
      const file = join(distDir, path);
      const exists = await stat(file).then(
        () => true,
        () => false,
      );
      if (!exists) continue;
      const byHash = join(dirname(file), "by-hash");
      await mkdir(join(byHash, "SHA256"), { recursive: true });
      await copyFile(file, join(byHash, "SHA256", sha256));
      if (sha512) {
        await mkdir(join(byHash, "SHA512"), { recursive: true });
        await copyFile(file, join(byHash, "SHA512", sha512));
      }
    }
  }
  await writeFile(join(distDir, "Release"), releaseBytes);
  if (opts.signer && opts.inRelease !== false) await writeFile(join(distDir, "InRelease"), await clearsign(opts.signer, releaseBytes));
  if (opts.signer && opts.releaseGpg !== false) await writeFile(join(distDir, "Release.gpg"), await detachSign(opts.signer, releaseBytes));
}

export function sha256File(data: Buffer): string {
  return sha("sha256", data);
}

// ------------------------------------------------------------------------------------------------ apt-get

export interface AptClient {
  /** apt-get update; throws on any warning or error apt prints. */
  update(...extra: string[]): Promise<string>;
  /** apt-get download into `dest`; returns the file names written. */
  download(dest: string, ...packages: string[]): Promise<string[]>;
  /** apt-get source --download-only into `dest`. */
  source(dest: string, pkg: string): Promise<string[]>;
  /** "name=version" of every package apt knows, sorted. */
  available(): Promise<string[]>;
  /** apt-get install --simulate: the "name=version" apt would install, sorted (throws when it cannot resolve them). */
  simulateInstall(...packages: string[]): Promise<string[]>;
}

/**
 * apt-get confined to a scratch directory: its own sources.list (a `deb [signed-by=<keyring>] <uri> <dist>
 * <components>` line, plus deb-src when asked), state, cache and empty dpkg status; none of the host's
 * configuration, keys or lists.
 */
export async function aptClient(
  scratch: string,
  src: { uri: string; dist: string; components: string[]; keyring: string; debSrc?: boolean },
): Promise<AptClient> {
  const line = `[signed-by=${src.keyring}] ${src.uri} ${src.dist} ${src.components.join(" ")}`;
  return aptClientWithSources(scratch, { fileName: "sources.list", text: `deb ${line}\n${src.debSrc ? `deb-src ${line}\n` : ""}` });
}

/** The same client reading a given sources file: one-line style, or deb822 when fileName ends in .sources. */
export async function aptClientWithSources(scratch: string, sources: { fileName: string; text: string }): Promise<AptClient> {
  const dir = await mkdtemp(join(scratch, "apt-"));
  for (const d of ["state/lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/preferences.d"]) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, "status"), "");
  await writeFile(join(dir, sources.fileName), sources.text);
  await writeFile(
    join(dir, "apt.conf"),
    [
      `Dir::Etc::main "/dev/null";`,
      `Dir::Etc::parts "${dir}/etc/apt.conf.d";`,
      `Dir::Etc::preferences "/dev/null";`,
      `Dir::Etc::preferencesparts "${dir}/etc/preferences.d";`,
      `Dir::Etc::sourcelist "${dir}/${sources.fileName}";`,
      `Dir::Etc::sourceparts "-";`,
      `Dir::Etc::trusted "/dev/null";`,
      `Dir::Etc::trustedparts "${dir}/etc/trusted.gpg.d";`,
      `Dir::State "${dir}/state";`,
      `Dir::State::status "${dir}/status";`,
      `Dir::Cache "${dir}/cache";`,
      `APT::Get::List-Cleanup "0";`,
      `APT::Architecture "amd64";`,
      `APT::Architectures { "amd64"; };`,
      `Acquire::Languages "none";`,
      `APT::Sandbox::User "root";`,
      `Debug::NoLocking "1";`,
      "",
    ].join("\n"),
  );
  const env = { ...process.env, APT_CONFIG: join(dir, "apt.conf"), LC_ALL: "C" };
  const apt = async (cmd: string, args: string[], cwd?: string): Promise<string> => {
    const { execFile } = await import("node:child_process");
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { env, cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (err) return reject(new Error(`${cmd} ${args.join(" ")} failed: ${output}`));
        if (/^(W|E|Err):/m.test(output)) return reject(new Error(`${cmd} ${args.join(" ")} warned: ${output}`));
        resolve(output);
      });
    });
  };
  return {
    update: (...extra) => apt("apt-get", ["update", ...extra]),
    async download(dest, ...packages) {
      await mkdir(dest, { recursive: true });
      await apt("apt-get", ["download", ...packages], dest);
      return (await readdir(dest)).sort();
    },
    async source(dest, pkg) {
      await mkdir(dest, { recursive: true });
      await apt("apt-get", ["source", "--download-only", pkg], dest);
      return (await readdir(dest)).sort();
    },
    async simulateInstall(...packages) {
      const out = await apt("apt-get", ["install", "--simulate", "--no-install-recommends", "-y", ...packages]);
      return [...out.matchAll(/^Inst (\S+) \((\S+)/gm)].map((m) => `${m[1]}=${m[2]}`).sort();
    },
    async available() {
      const out = await apt("apt-cache", ["dumpavail"]);
      const found: string[] = [];
      for (const para of out.split(/\n\n+/)) {
        const name = /^Package: (.*)$/m.exec(para)?.[1];
        const version = /^Version: (.*)$/m.exec(para)?.[1];
        if (name && version) found.push(`${name}=${version}`);
      }
      return found.sort();
    },
  };
}

/** The bytes of a file under a repository root. */
export function readRepoFile(root: string, path: string): Promise<Buffer> {
  return readFile(join(root, path));
}
