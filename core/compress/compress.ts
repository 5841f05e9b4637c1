// Compression of metadata we generate ourselves (a curated mirror's repodata): gz via zlib, zstd via zlib when
// Node has it, else xz and zstd through the host's binaries; a missing binary falls back to gzip.
import { spawn, spawnSync } from "node:child_process";
import { Duplex, PassThrough, type Transform } from "node:stream";
import zlib from "node:zlib";
import { ChantalError } from "../errors.js";
import type { CompressionKind } from "./decompress.js";

export class CompressionToolError extends ChantalError {}

/** What we can write: bz2 is not among them (upstream's bz2 is written as gz). */
export type OutputCompression = "gz" | "xz" | "zst" | "none";

export const EXTENSION_OF: Record<OutputCompression, string> = { gz: ".gz", xz: ".xz", zst: ".zst", none: "" };

type ZlibWithZstd = typeof zlib & { createZstdCompress?: () => Transform };

const toolPresent = new Map<string, boolean>();

function hasTool(bin: string): boolean {
  let known = toolPresent.get(bin);
  if (known === undefined) {
    known = !spawnSync(bin, ["--version"], { stdio: "ignore" }).error;
    toolPresent.set(bin, known);
  }
  return known;
}

/** The compression we write for upstream's `kind`, and why it differs when it does. */
export function outputCompressionFor(kind: CompressionKind, toolInstalled: (bin: string) => boolean = hasTool): { kind: OutputCompression; fallback?: string } {
  if (kind === "gz" || kind === "none") return { kind };
  if (kind === "bz2") return { kind: "gz", fallback: "bzip2 is not written; using gzip" };
  if (kind === "zst" && (zlib as ZlibWithZstd).createZstdCompress) return { kind: "zst" };
  const bin = kind === "xz" ? "xz" : "zstd";
  if (toolInstalled(bin)) return { kind };
  return { kind: "gz", fallback: `the ${bin} program is not installed; using gzip` };
}

/** A compressor process's stdin and stdout as one stream; its failure (exit code, stderr) as the stream's error. */
function toolStream(bin: string, args: string[]): Duplex {
  const child = spawn(bin, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString();
  });
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.on("error", (err) => duplex.destroy(new CompressionToolError(`${bin}: ${err.message}`, { cause: err })));
  child.on("exit", (code, signal) => {
    if (code !== 0) duplex.destroy(new CompressionToolError(`${bin} ${args.join(" ")} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
  });
  return duplex;
}

/** A compressing stream for `kind` (as chosen by outputCompressionFor). Levels are fixed: the same input gives the same bytes. */
export function compressStream(kind: OutputCompression): Duplex {
  switch (kind) {
    case "gz":
      return zlib.createGzip({ level: 9 });
    case "zst": {
      const z = zlib as ZlibWithZstd;
      return z.createZstdCompress ? z.createZstdCompress() : toolStream("zstd", ["-q", "-c", "-19", "--no-progress"]);
    }
    case "xz":
      return toolStream("xz", ["-c", "-6", "-T1"]);
    default:
      return new PassThrough();
  }
}
