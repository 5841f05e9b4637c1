// Generates a valid RPM repository of N packages with random payloads (correct checksums, createrepo layout), streaming.
import { createCipheriv, createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { createGzip } from "node:zlib";

export interface GeneratedRepo {
  dir: string;
  packages: number;
  payloadBytes: number;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function packageEntry(name: string, version: string, location: string, sha256: string, size: number): string {
  return `<package type="rpm"><name>${xmlEscape(name)}</name><arch>noarch</arch><version epoch="0" ver="${version}" rel="1"/>` +
    `<checksum type="sha256" pkgid="YES">${sha256}</checksum><summary>generated</summary><description>generated</description>` +
    `<packager/><url/><time file="1700000000" build="1700000000"/><size package="${size}" installed="${size}" archive="${size}"/>` +
    `<location href="${xmlEscape(location)}"/><format><rpm:license>MIT</rpm:license><rpm:vendor/><rpm:group>Unspecified</rpm:group>` +
    `<rpm:buildhost>bench</rpm:buildhost><rpm:sourcerpm>${xmlEscape(name)}-${version}-1.src.rpm</rpm:sourcerpm><rpm:header-range start="0" end="${size}"/>` +
    `<rpm:provides><rpm:entry name="${xmlEscape(name)}" flags="EQ" epoch="0" ver="${version}" rel="1"/></rpm:provides></format></package>\n`;
}

async function writeGzipped(path: string, chunks: AsyncIterable<string> | Iterable<string>): Promise<{ sha256: string; size: number; openSha256: string; openSize: number }> {
  const open = createHash("sha256");
  let openSize = 0;
  const closed = createHash("sha256");
  let size = 0;
  const source = Readable.from(
    (async function* () {
      for await (const c of chunks) {
        const b = Buffer.from(c);
        open.update(b);
        openSize += b.length;
        yield b;
      }
    })(),
  );
  const gzip = createGzip({ level: 1 });
  gzip.on("data", (d: Buffer) => {
    closed.update(d);
    size += d.length;
  });
  await pipeline(source, gzip, createWriteStream(path));
  return { sha256: closed.digest("hex"), size, openSha256: open.digest("hex"), openSize };
}

/** Pseudo-random bytes that depend only on the seed: the same package generated twice is the same blob. */
export function payloadFor(seed: string, bytes: number): Buffer {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-128-ctr", key.subarray(0, 16), key.subarray(16, 32));
  return Buffer.concat([cipher.update(Buffer.alloc(bytes)), cipher.final()]);
}

export interface GenerateOptions {
  version?: string;
  /** Package name prefix (default "pkg"). */
  seedName?: string;
  /** Index of the first package (default 0): shifting it adds and removes packages between two generations. */
  first?: number;
}

/** `count` packages of `payloadBytes` pseudo-random bytes each, plus repodata/ (primary, filelists, other). */
export async function generateRpmRepo(dir: string, count: number, payloadBytes: number, opts: GenerateOptions = {}): Promise<GeneratedRepo> {
  const version = opts.version ?? "1.0";
  await mkdir(join(dir, "repodata"), { recursive: true });
  const entries: string[] = [];
  for (let i = opts.first ?? 0; i < (opts.first ?? 0) + count; i++) {
    const name = `${opts.seedName ?? "pkg"}${String(i).padStart(6, "0")}`;
    const location = `Packages/${name[name.length - 1]}/${name}-${version}-1.noarch.rpm`;
    const data = payloadFor(`${name}-${version}`, payloadBytes);
    await mkdir(join(dir, location, ".."), { recursive: true });
    await writeFile(join(dir, location), data);
    entries.push(packageEntry(name, version, location, createHash("sha256").update(data).digest("hex"), data.length));
  }
  const header = (kind: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/${kind}"${kind === "common" ? ' xmlns:rpm="http://linux.duke.edu/metadata/rpm"' : ""} packages="${count}">\n`;
  const primary = await writeGzipped(join(dir, "repodata", "primary.xml.gz"), [header("common"), ...entries, "</metadata>\n"]);
  const filelists = await writeGzipped(join(dir, "repodata", "filelists.xml.gz"), [`<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="0">\n</filelists>\n`]);
  const other = await writeGzipped(join(dir, "repodata", "other.xml.gz"), [`<?xml version="1.0" encoding="UTF-8"?>\n<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="0">\n</otherdata>\n`]);
  const data = (type: string, file: string, f: Awaited<ReturnType<typeof writeGzipped>>) =>
    `  <data type="${type}">\n    <checksum type="sha256">${f.sha256}</checksum>\n    <open-checksum type="sha256">${f.openSha256}</open-checksum>\n` +
    `    <location href="repodata/${file}"/>\n    <timestamp>1700000000</timestamp>\n    <size>${f.size}</size>\n    <open-size>${f.openSize}</open-size>\n  </data>\n`;
  const repomd = `<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">\n  <revision>${Date.now()}</revision>\n` +
    data("primary", "primary.xml.gz", primary) + data("filelists", "filelists.xml.gz", filelists) + data("other", "other.xml.gz", other) + "</repomd>\n";
  await writeFile(join(dir, "repodata", "repomd.xml"), repomd);
  return { dir, packages: count, payloadBytes };
}
