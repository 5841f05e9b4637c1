// The archive: a tar (gzip-wrapped unless --no-compress) of manifest.json, the dump and config/, written and read as streams.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readdir } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { PassThrough, Readable, Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Pack, Parser, type ReadEntry } from "tar";
import type { Config } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import { BackupInvalidError, CONFIG_PREFIX, MANIFEST_NAME, type MemberDigest } from "./manifest.js";
import { isFileType, memberProblem, normalizeMemberPath } from "./safety.js";

/** A manifest larger than this is not ours. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** A stream that passes bytes through while computing their sha256 and count. */
export function digestingStream(): { stream: Transform; digest(): MemberDigest } {
  const hash = createHash("sha256");
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  let result: MemberDigest | undefined;
  return { stream, digest: () => (result ??= { sha256: hash.digest("hex"), size }) };
}

/** A stream that counts the bytes passing through. */
export function countingStream(): { stream: Transform; bytes(): number } {
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, bytes: () => bytes };
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && rel !== "..");
}

export interface ConfigFileList {
  /** Paths relative to the configuration directory, sorted. */
  files: string[];
  /** Entries left out (symlinks, sockets, Chantal's own data under the config directory), for a warning. */
  skipped: string[];
}

/**
 * The configuration directory's regular files, recursively. Symlinks and special files are skipped, and so is
 * anything under Chantal's storage paths or the backup directory (a relative base_path lives inside the config dir).
 */
export async function listConfigFiles(configDir: string, config: Config, backupDir?: string): Promise<ConfigFileList> {
  const root = resolve(configDir);
  // The backup signing key stays out of the backups it signs.
  const excluded = [
    config.storage.base_path,
    config.storage.pool_path,
    config.storage.published_path,
    config.storage.temp_path,
    backupDir,
    config.backup.signing?.key_file,
  ]
    .filter((p): p is string => !!p)
    .map((p) => resolve(p))
    .filter((p) => isInside(p, root) && p !== root);
  const files: string[] = [];
  const skipped: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name);
      const rel = relative(root, abs);
      if (excluded.some((e) => isInside(abs, e))) {
        skipped.push(rel);
        continue;
      }
      const info = await lstat(abs);
      if (info.isDirectory()) await walk(abs);
      else if (info.isFile()) files.push(rel.split(sep).join("/"));
      else skipped.push(rel);
    }
  };
  await walk(root);
  return { files, skipped };
}

/** Copy a file into the staging directory, returning the digest of what was copied. */
export async function stageFile(from: string, to: string, signal?: AbortSignal): Promise<MemberDigest> {
  await mkdir(dirname(to), { recursive: true });
  const d = digestingStream();
  await pipeline(createReadStream(from), d.stream, createWriteStream(to, { mode: 0o600 }), { signal });
  return d.digest();
}

/** The tar stream of the staged members, in this order (manifest.json first, so readers find it at once). */
export function packArchive(stagingDir: string, members: string[], compress: boolean): Readable {
  const pack = new Pack({ cwd: stagingDir, portable: true, gzip: compress ? { level: 1 } : false, strict: true });
  for (const m of members) pack.add(m);
  pack.end();
  return Readable.from(pack as unknown as AsyncIterable<Buffer>);
}

export interface ArchiveMember {
  path: string;
  size: number;
  /** The member's bytes; must be consumed (or resumed) by the visitor. */
  body: Readable;
}

export interface ReadArchiveResult {
  /** Directories seen (allowed, ignored). */
  directories: string[];
}

function entryBody(entry: ReadEntry): PassThrough {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  entry.on("data", (c: Buffer) => {
    if (!out.write(c)) {
      entry.pause();
      out.once("drain", () => entry.resume());
    }
  });
  entry.on("end", () => out.end());
  return out;
}

/**
 * Read an archive member by member, refusing unsafe members (absolute paths, `..`, links, devices) before the
 * visitor sees them. Gzip is detected by its magic bytes. Truncation and corruption throw BackupInvalidError.
 */
export async function readArchive(
  input: Readable,
  visit: (m: ArchiveMember) => Promise<void>,
  opts: { signal?: AbortSignal } = {},
): Promise<ReadArchiveResult> {
  const directories: string[] = [];
  const seen = new Set<string>();
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  const open = new Set<PassThrough>();
  let stop!: () => void;
  // Resolves on the first failure: a pump waiting for the parser to drain (a paused member) must not wait forever.
  const stopped = new Promise<void>((r) => (stop = r));
  const fail = (err: unknown) => {
    failure ??= err;
    stop();
    input.destroy();
    // A member cut short by the failure never ends by itself: end its reader so the visitor returns.
    for (const body of open) body.destroy();
    open.clear();
  };
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const path = normalizeMemberPath(entry.path);
      const problem = memberProblem(entry.path, entry.type);
      if (problem) {
        entry.resume();
        fail(new BackupInvalidError(`archive member "${entry.path}" ${problem}: refused`));
        return;
      }
      if (!isFileType(entry.type)) {
        directories.push(path);
        entry.resume();
        return;
      }
      if (seen.has(path)) {
        entry.resume();
        fail(new BackupInvalidError(`archive member "${path}" appears twice: refused`));
        return;
      }
      seen.add(path);
      const body = entryBody(entry);
      open.add(body);
      body.on("close", () => open.delete(body));
      chain = chain.then(async () => {
        if (failure) {
          body.resume();
          return;
        }
        await visit({ path, size: entry.size, body }).catch((err) => {
          body.resume();
          fail(err);
        });
      });
    },
  });
  const parsed = new Promise<void>((resolvePromise, reject) => {
    parser.on("error", (err: Error) =>
      reject(
        new BackupInvalidError(
          `the archive is not a readable tar${/gzip|zlib|deflate|header check|unexpected end/i.test(err.message) ? " (gzip)" : ""}: ${err.message}`,
        ),
      ),
    );
    parser.on("end", () => resolvePromise());
  });
  const pumped = (async () => {
    try {
      for await (const chunk of input) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        if (!parser.write(chunk as Buffer)) await Promise.race([new Promise<void>((r) => parser.once("drain", () => r())), stopped]);
        if (failure) return;
      }
      parser.end();
    } catch (err) {
      if (!failure) failure = err;
      parser.abort(err as Error);
    }
  })();
  const onAbort = () => fail(opts.signal!.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.all([Promise.race([parsed.catch((err) => fail(err)), stopped]), pumped]);
    await chain;
  } catch (err) {
    fail(err);
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
  if (failure)
    throw failure instanceof Error && !(failure instanceof BackupInvalidError) && isStreamNoise(failure)
      ? new BackupInvalidError(`cannot read the archive: ${errorMessage(failure)}`)
      : failure;
  return { directories };
}

/** Errors of a stream we destroyed ourselves after the real failure was recorded are not the story. */
function isStreamNoise(err: Error): boolean {
  return (err as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE";
}

/** Read only manifest.json (the first member of our archives) and stop: for listing many backups cheaply. */
export async function readManifestText(input: Readable): Promise<string> {
  let text: string | undefined;
  const stop = new Error("manifest read");
  try {
    await readArchive(input, async (m) => {
      if (m.path !== MANIFEST_NAME) {
        m.body.resume();
        throw new BackupInvalidError(text === undefined ? `the archive has no manifest.json as its first member (found ${m.path})` : "unreachable");
      }
      text = await readSmall(m.body, MAX_MANIFEST_BYTES, MANIFEST_NAME);
      throw stop;
    });
  } catch (err) {
    if (err !== stop) throw err;
  } finally {
    input.destroy();
  }
  if (text === undefined) throw new BackupInvalidError("the archive has no manifest.json");
  return text;
}

export async function readSmall(body: Readable, maxBytes: number, label: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > maxBytes) throw new BackupInvalidError(`${label} is larger than ${maxBytes} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Drain a stream into a writable with backpressure (for members a visitor stores). */
export async function drainInto(body: Readable, out: Writable, signal?: AbortSignal): Promise<void> {
  await pipeline(body, out, { signal });
}

export function configMemberName(relativePath: string): string {
  return CONFIG_PREFIX + relativePath;
}
