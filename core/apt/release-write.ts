// The Release of a curated (filtered) APT suite, from upstream's identity fields and the indices we publish; and its signatures.
import { createHash } from "node:crypto";
import type { MetadataSigner } from "../mirror/types.js";
import type { Release } from "./release.js";

/** One index file we publish, relative to dists/<dist>/. */
export interface WrittenIndex {
  path: string;
  data: Buffer;
}

/** Upstream fields copied as they are (in this order): who the suite is, its dates, its layout. */
const COPIED_FIELDS = ["Origin", "Label", "Suite", "Version", "Codename", "Date", "Valid-Until", "Architectures", "Components", "Description"];
/** Copied too when present: it says where arch:all packages are listed, which our indices keep as upstream has it. */
const LAYOUT_FIELDS = ["No-Support-for-Architecture-all"];

/** A field as deb822 writes it: continuation lines (stored without their leading space) get it back. */
function fieldLine(name: string, value: string): string {
  return `${name}: ${value.split("\n").join("\n ")}`;
}

/** Upstream's list, in its order, restricted to what we publish; undefined when upstream has no such field. */
function restricted(value: string | undefined, keep: (word: string) => boolean): string | undefined {
  if (value === undefined) return undefined;
  return value
    .split(/\s+/)
    .filter((w) => w !== "" && keep(w))
    .join(" ");
}

function hex(algo: string, data: Buffer): string {
  return createHash(algo).update(data).digest("hex");
}

export interface ReleaseSelection {
  components: readonly string[];
  architectures: readonly string[];
}

/**
 * The Release text: upstream's identity and dates (Date kept, so an unchanged upstream gives the same bytes; Valid-Until
 * only if upstream has one), Architectures and Components narrowed to what is mirrored, Acquire-By-Hash, and SHA256 and
 * SHA512 of exactly the indices we publish (sorted by path).
 */
export function curatedReleaseText(upstream: Release, selection: ReleaseSelection, indices: readonly WrittenIndex[]): string {
  const archs = new Set([...selection.architectures, "all"]);
  const comps = new Set(selection.components);
  const lines: string[] = [];
  for (const name of [...COPIED_FIELDS, ...LAYOUT_FIELDS]) {
    let value = upstream.fields.get(name.toLowerCase());
    if (name === "Architectures") value = restricted(value, (a) => archs.has(a));
    if (name === "Components") value = restricted(value, (c) => comps.has(c));
    if (value !== undefined) lines.push(fieldLine(name, value));
  }
  lines.push("Acquire-By-Hash: yes");
  const sorted = [...indices].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const [field, algo] of [
    ["SHA256", "sha256"],
    ["SHA512", "sha512"],
  ] as const) {
    lines.push(`${field}:`);
    for (const f of sorted) lines.push(` ${hex(algo, f.data)} ${String(f.data.length).padStart(16)} ${f.path}`);
  }
  return `${lines.join("\n")}\n`;
}

/** by-hash paths (relative to dists/<dist>/) of one index we publish: apt asks for the strongest hash the Release lists. */
export function writtenByHashPaths(f: WrittenIndex): string[] {
  const slash = f.path.lastIndexOf("/");
  const dir = slash === -1 ? "" : f.path.slice(0, slash + 1);
  return [`${dir}by-hash/SHA256/${hex("sha256", f.data)}`, `${dir}by-hash/SHA512/${hex("sha512", f.data)}`];
}

/** The suite files a signer makes of a Release: InRelease (clearsigned) and Release.gpg (detached), beside Release itself. */
export async function signedSuiteFiles(releaseText: string, signer: MetadataSigner): Promise<{ name: string; data: Buffer }[]> {
  const bytes = Buffer.from(releaseText, "utf8");
  return [
    { name: "Release", data: bytes },
    { name: "InRelease", data: Buffer.from(await signer.clearsign(releaseText), "utf8") },
    { name: "Release.gpg", data: Buffer.from(await signer.signDetached(bytes), "utf8") },
  ];
}

/**
 * An unfiltered suite re-signed by the mirror (signing.resign): upstream's Release bytes (else InRelease's signed text)
 * with our InRelease and Release.gpg; the Release says the same, so every index still matches it.
 */
export async function resignedSuiteFiles(
  upstreamFiles: readonly { name: string; data: Buffer }[],
  verifiedText: string,
  signer: MetadataSigner,
): Promise<{ name: string; data: Buffer }[]> {
  const release = upstreamFiles.find((f) => f.name === "Release")?.data.toString("utf8") ?? (verifiedText.endsWith("\n") ? verifiedText : `${verifiedText}\n`);
  return signedSuiteFiles(release, signer);
}
