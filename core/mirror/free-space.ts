// Before a sync downloads, the bytes it needs against the pool filesystem's free space (plus storage.free_space_reserve_mb):
// fail early with a clear message rather than fill the disk; and ENOSPC during the downloads named as what it is.
import { statfs } from "node:fs/promises";
import { ChantalError } from "../errors.js";
import type { Config } from "../config/schema.js";

export const DEFAULT_FREE_SPACE_RESERVE_MB = 512;
const MIB = 1024 * 1024;

export class InsufficientSpaceError extends ChantalError {}

const mib = (n: number) => `${(n / MIB).toFixed(1)} MiB`;

/** Pure: why `needed` bytes do not fit in `free` while keeping `reserve` free, or undefined when they fit. */
export function freeSpaceProblem(needed: number, free: number, reserve: number, where: string): string | undefined {
  if (needed === 0 || needed + reserve <= free) return undefined;
  return (
    `not enough free space in ${where}: this sync downloads ${mib(needed)}, the filesystem has ${mib(free)} free` +
    (reserve > 0 ? ` and storage.free_space_reserve_mb keeps ${mib(reserve)} of it` : "") +
    `: free ${mib(needed + reserve - free)} (run "pool gc", "snapshot prune", or grow the disk), or lower storage.free_space_reserve_mb`
  );
}

/** Throws InsufficientSpaceError when the downloads would not fit (filesystem backend; on S3 only temp files touch the disk). */
export async function checkFreeSpace(config: Config, bytesNeeded: number): Promise<void> {
  if (config.storage.backend === "s3" || bytesNeeded === 0) return;
  const where = config.storage.pool_path!;
  const fs = await statfs(where).catch(() => undefined);
  if (!fs) return; // not made yet: the first adopt makes it, and ENOSPC still reports itself
  const reserve = (config.storage.free_space_reserve_mb ?? DEFAULT_FREE_SPACE_RESERVE_MB) * MIB;
  const problem = freeSpaceProblem(bytesNeeded, fs.bavail * fs.bsize, reserve, where);
  if (problem) throw new InsufficientSpaceError(problem);
}

/** Whether err (or a cause below it) is ENOSPC. */
export function isNoSpace(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === "ENOSPC") return true;
  }
  return false;
}

/** ENOSPC as one clear failure: the partial file is gone (the download removes it), what finished is recorded. */
export function noSpaceError(config: Config, err: unknown): InsufficientSpaceError {
  const where = config.storage.backend === "s3" ? config.storage.temp_path! : config.storage.pool_path!;
  return new InsufficientSpaceError(
    `the filesystem of ${where} is full (ENOSPC): the sync stopped; packages downloaded so far are kept and recorded, the partial one is removed; free space (e.g. "pool gc") and sync again`,
    { cause: err },
  );
}
