// Hand-made tar archives (any path, any type, any bytes) for the refusal tests: what our writer would never produce.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { Header, x as extractTar } from "tar";
import { DUMP_END } from "../../../core/backup/dump.js";
import type { Manifest } from "../../../core/backup/manifest.js";

export interface RawEntry {
  path: string;
  type?: "File" | "Directory" | "SymbolicLink" | "Link" | "CharacterDevice" | "BlockDevice" | "FIFO";
  data?: Buffer | string;
  linkpath?: string;
}

export function rawTar(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? "");
    const type = e.type ?? "File";
    const header = new Header({
      path: e.path,
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: type === "File" ? data.length : 0,
      mtime: new Date(0),
      type,
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === "File") blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A small valid dump and config, with the manifest that describes them. */
export function validMembers(opts: { migrations?: string[]; dump?: string } = {}): { manifest: Manifest; dump: Buffer; config: Buffer } {
  const dump = gzipSync(opts.dump ?? `-- test\nBEGIN; -- chantal-dump begin\nCREATE SCHEMA chantal;\n${DUMP_END}\n`);
  const config = Buffer.from("storage:\n  base_path: /tmp/x\n");
  const migrations = opts.migrations ?? ["0001_initial"];
  const manifest: Manifest = {
    backup_version: 1,
    chantal_version: "0.1.0",
    database_version: migrations.at(-1)!,
    database_migrations: migrations,
    created_at: "2024-05-01T03:30:07.000Z",
    hostname: "test",
    repositories_count: 0,
    packages_count: 0,
    snapshots_count: 0,
    tables: {},
    includes_config: true,
    compression: "gzip",
    database_file: "database.sql.gz",
    database_size_bytes: dump.length,
    config_files: ["config.yaml"],
    members: { "database.sql.gz": { sha256: sha(dump), size: dump.length }, "config/config.yaml": { sha256: sha(config), size: config.length } },
  };
  return { manifest, dump, config };
}

export function validEntries(m = validMembers()): RawEntry[] {
  return [
    { path: "manifest.json", data: JSON.stringify(m.manifest) },
    { path: "database.sql.gz", data: m.dump },
    { path: "config/config.yaml", data: m.config },
  ];
}

/**
 * A copy of a plain (uncompressed tar) backup whose dump was changed by `edit`, with the manifest's checksums and sizes
 * recomputed (they are an integrity check, not a signature): what an attacker who can write the backup directory makes.
 * `signature` is put after the manifest as manifest.json.asc (e.g. the original one, now over a different manifest).
 */
export async function recraftArchive(
  archive: string,
  edit: (dump: string) => string,
  opts: { gzip?: boolean; keepDeclaredSize?: boolean; signature?: Buffer } = {},
): Promise<Buffer> {
  const out = mkdtempSync(join(dirname(archive), "recraft-"));
  try {
    await extractTar({ file: archive, cwd: out });
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const text = Buffer.from(edit(readFileSync(join(out, "database.sql"), "utf8")));
    const stored = opts.gzip ? gzipSync(text) : text;
    const file = opts.gzip ? "database.sql.gz" : "database.sql";
    const crafted = {
      ...manifest,
      compression: opts.gzip ? "gzip" : "none",
      database_file: file,
      database_size_bytes: stored.length,
      database_uncompressed_bytes: opts.keepDeclaredSize ? manifest.database_uncompressed_bytes : text.length,
      members: { [file]: { sha256: sha(stored), size: stored.length } },
      includes_config: false,
      config_files: [],
    };
    const entries: RawEntry[] = [{ path: "manifest.json", data: JSON.stringify(crafted, null, 2) + "\n" }];
    if (opts.signature) entries.push({ path: "manifest.json.asc", data: opts.signature });
    entries.push({ path: file, data: stored });
    const tar = rawTar(entries);
    return opts.gzip ? gzipSync(tar) : tar;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
