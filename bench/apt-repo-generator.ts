// Generates a valid APT suite of N packages with pseudo-random payloads (correct sizes and checksums in
// Packages and Release) much faster than dpkg-deb: for benchmarks and the offline quickstart. apt-get
// accepts the indices; the .deb files are not real archives, so only mirroring (not installing) works.
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { payloadFor } from "./rpm-repo-generator.js";

export interface GeneratedAptSuite {
  dir: string;
  dist: string;
  packages: number;
  /** The Release text (unsigned); sign it yourself for InRelease / Release.gpg. */
  release: Buffer;
}

export interface AptSuiteOptions {
  dist?: string;
  component?: string;
  arch?: string;
  /** Package name prefix (default "pkg"). */
  seedName?: string;
  /** Index of the first package: shifting it adds and removes packages between two generations. */
  first?: number;
  version?: string;
}

function hex(algo: string, data: Buffer): string {
  return createHash(algo).update(data).digest("hex");
}

function stanza(name: string, version: string, arch: string, filename: string, data: Buffer): string {
  return (
    `Package: ${name}\nVersion: ${version}\nArchitecture: ${arch}\nMaintainer: Chantal Bench <bench@example.invalid>\n` +
    `Installed-Size: ${Math.ceil(data.length / 1024)}\nSection: misc\nPriority: optional\nFilename: ${filename}\nSize: ${data.length}\n` +
    `MD5sum: ${hex("md5", data)}\nSHA256: ${hex("sha256", data)}\nDescription: generated package ${name}\n A package generated for Chantal's benchmark.\n\n`
  );
}

function releaseText(dist: string, component: string, arch: string, files: { path: string; data: Buffer }[]): string {
  const list = (algo: string) => files.map((f) => ` ${hex(algo, f.data)} ${String(f.data.length).padStart(10)} ${f.path}`).join("\n");
  return (
    `Origin: Chantal\nLabel: Chantal bench\nSuite: ${dist}\nCodename: ${dist}\nDate: ${new Date().toUTCString()}\n` +
    `Architectures: ${arch}\nComponents: ${component}\nDescription: generated suite\nMD5Sum:\n${list("md5")}\nSHA256:\n${list("sha256")}\n`
  );
}

/** `count` packages of `payloadBytes` bytes under pool/, and dists/<dist>/ with Packages(.gz) and an unsigned Release. */
export async function generateAptSuite(dir: string, count: number, payloadBytes: number, opts: AptSuiteOptions = {}): Promise<GeneratedAptSuite> {
  const dist = opts.dist ?? "bench";
  const component = opts.component ?? "main";
  const arch = opts.arch ?? "amd64";
  const version = opts.version ?? "1.0-1";
  const chunks: string[] = [];
  const first = opts.first ?? 0;
  for (let i = first; i < first + count; i++) {
    const name = `${opts.seedName ?? "pkg"}${String(i).padStart(6, "0")}`;
    const filename = `pool/${component}/${name[name.length - 1]}/${name}/${name}_${version}_all.deb`;
    const data = payloadFor(`${name}-${version}`, payloadBytes);
    await mkdir(join(dir, filename, ".."), { recursive: true });
    await writeFile(join(dir, filename), data);
    chunks.push(stanza(name, version, "all", filename, data));
  }
  const packages = Buffer.from(chunks.join(""));
  const indexDir = `${component}/binary-${arch}`;
  await mkdir(join(dir, "dists", dist, indexDir), { recursive: true });
  const gz = gzipSync(packages, { level: 6 });
  await writeFile(join(dir, "dists", dist, indexDir, "Packages.gz"), gz);
  await writeFile(join(dir, "dists", dist, indexDir, "Packages"), packages);
  const release = Buffer.from(releaseText(dist, component, arch, [
    { path: `${indexDir}/Packages`, data: packages },
    { path: `${indexDir}/Packages.gz`, data: gz },
  ]));
  await writeFile(join(dir, "dists", dist, "Release"), release);
  return { dir, dist, packages: count, release };
}

export interface SuiteSignature {
  /** Binary OpenPGP keyring with the public key (for verify.keyring and apt's signed-by). */
  keyring: string;
  /** The same key, armored. */
  armored: string;
}

/**
 * Signs a generated suite with a fresh Ed25519 key made by openpgp.js (no gpg needed): writes
 * dists/<dist>/InRelease and Release.gpg, and the public key to `keyDir`. For demos and benchmarks only:
 * the private key is thrown away.
 */
export async function signAptSuite(suite: GeneratedAptSuite, keyDir: string): Promise<SuiteSignature> {
  const openpgp = await import("openpgp");
  const { privateKey, publicKey } = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ name: "Chantal demo archive", email: "demo@example.invalid" }], format: "object" });
  const text = suite.release.toString("utf8");
  const inRelease = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text }), signingKeys: privateKey });
  const detached = await openpgp.sign({ message: await openpgp.createMessage({ binary: new Uint8Array(suite.release) }), signingKeys: privateKey, detached: true });
  await writeFile(join(suite.dir, "dists", suite.dist, "InRelease"), inRelease);
  await writeFile(join(suite.dir, "dists", suite.dist, "Release.gpg"), detached);
  await mkdir(keyDir, { recursive: true });
  const keyring = join(keyDir, "demo-archive-keyring.gpg");
  const armored = join(keyDir, "demo-archive-keyring.asc");
  await writeFile(keyring, publicKey.write());
  await writeFile(armored, publicKey.armor());
  return { keyring, armored };
}
