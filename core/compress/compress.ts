// Compression of metadata we generate ourselves (regenerated Packages, Sources): gzip in-process, xz through the host's xz.
import { spawn } from "node:child_process";
import { gzipSync } from "node:zlib";
import { ChantalError } from "../errors.js";

export class CompressError extends ChantalError {}

/** gzip at level 9; deterministic (zlib writes no name and a zero mtime), so the same text gives the same bytes. */
export function gzipBytes(data: Buffer): Buffer {
  return gzipSync(data, { level: 9 });
}

/**
 * xz -6 on one thread (the block layout, hence the bytes, then depend only on the input and xz's version), fed our own
 * bytes on stdin. Resolves to null when no xz is installed: the caller publishes without an .xz variant.
 */
export function xzBytes(data: Buffer, signal?: AbortSignal): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const child = spawn("xz", ["--compress", "--stdout", "-6", "--threads=1", "--check=crc64"], {
      stdio: ["pipe", "pipe", "pipe"],
      ...(signal ? { signal } : {}),
    });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") resolve(null);
      else reject(signal?.aborted ? signal.reason : new CompressError(`xz failed to start: ${err.message}`));
    });
    child.on("close", (code, killedBy) => {
      if (code === 0) resolve(Buffer.concat(out));
      else if (signal?.aborted) reject(signal.reason);
      else reject(new CompressError(`xz ${killedBy ? `was killed by ${killedBy}` : `exited ${code}`}: ${stderr.trim()}`));
    });
    // A write error (EPIPE) surfaces as the exit code above.
    child.stdin.on("error", () => undefined);
    child.stdin.end(data);
  });
}
