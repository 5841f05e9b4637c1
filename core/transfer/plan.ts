// The export's plan (pure): which referenced blobs go into the bundle after the delta's exclusions, and which volume holds each.
import { ChantalError, ExitCode } from "../errors.js";
import { TAR_BLOCK, tarMemberBytes } from "./tar.js";

export class ExportPlanError extends ChantalError {
  override readonly exitCode = ExitCode.usage;
}

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** "4G", "700M", "512K", "1.5G", "4096" (bytes); K/M/G/T are binary (KiB, MiB, ...), an optional "B"/"iB" is allowed. */
export function parseSize(text: string, option = "--volume-size"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) throw new ExportPlanError(`${option} ${JSON.stringify(text)} is not a size: write e.g. 4G, 700M, 512K or a number of bytes`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new ExportPlanError(`${option} ${text} must be more than 0 bytes`);
  return bytes;
}

/** A blob the exported snapshots reference. */
export interface PlannedBlob {
  sha256: string;
  size: number;
}

/** Blobs the receiver has already, and why (the delta's base, in words). */
export interface Exclusion {
  description: string;
  sha256s: ReadonlySet<string>;
}

export interface ExportPlan {
  /** Every referenced blob, sorted by sha256. */
  referenced: PlannedBlob[];
  /** What goes into the bundle, sorted by sha256; each with its volume (tar form) or null. */
  included: (PlannedBlob & { volume: number | null })[];
  excluded: number;
  /** Tar form: the bytes of each volume (headers, data, padding, the end blocks). */
  volumeBytes: number[];
  includedBytes: number;
  referencedBytes: number;
}

/** The two zero blocks that end a tar file. */
export const TAR_END_BYTES = 2 * TAR_BLOCK;

/**
 * Plan the bundle: referenced minus excluded, in sha256 order; with a volume size (tar form) blobs fill volumes in
 * that order, a new volume when the next member would not fit. A member larger than a volume alone is refused.
 */
export function planExport(referenced: readonly PlannedBlob[], opts: { exclude?: Exclusion; format: "dir" | "tar"; volumeSize?: number }): ExportPlan {
  const unique = new Map<string, PlannedBlob>();
  for (const b of referenced) unique.set(b.sha256, b);
  const sorted = [...unique.values()].sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0));
  const wanted = opts.exclude ? sorted.filter((b) => !opts.exclude!.sha256s.has(b.sha256)) : sorted;
  const included: ExportPlan["included"] = [];
  const volumeBytes: number[] = [];
  if (opts.format === "dir") for (const b of wanted) included.push({ ...b, volume: null });
  else {
    const limit = opts.volumeSize ?? Number.POSITIVE_INFINITY;
    for (const b of wanted) {
      const member = tarMemberBytes(b.size);
      if (member + TAR_END_BYTES > limit)
        throw new ExportPlanError(
          `blob ${b.sha256} is ${b.size} bytes: with its tar header it does not fit in a volume of ${limit} bytes; choose a larger --volume-size (at least ${member + TAR_END_BYTES})`,
        );
      const last = volumeBytes.length - 1;
      if (last < 0 || volumeBytes[last]! + member > limit) volumeBytes.push(TAR_END_BYTES + member);
      else volumeBytes[last]! += member;
      included.push({ ...b, volume: volumeBytes.length - 1 });
    }
    // An export with nothing new still has one (empty) volume, so that the bundle's form is visible.
    if (volumeBytes.length === 0) volumeBytes.push(TAR_END_BYTES);
  }
  const sum = (xs: readonly PlannedBlob[]) => xs.reduce((n, b) => n + b.size, 0);
  return { referenced: sorted, included, excluded: sorted.length - wanted.length, volumeBytes, includedBytes: sum(wanted), referencedBytes: sum(sorted) };
}
