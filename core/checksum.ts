// The checksum algorithms Chantal accepts from upstream metadata, the hex length of each, and sha256 of bytes in memory.
import { createHash } from "node:crypto";

export type ChecksumAlgo = "sha1" | "sha256" | "sha384" | "sha512";

export const CHECKSUM_HEX_LENGTH: Record<ChecksumAlgo, number> = { sha1: 40, sha256: 64, sha384: 96, sha512: 128 };

export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}
