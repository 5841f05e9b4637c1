// The checksum algorithms Chantal accepts from upstream metadata, and the hex length of each.
export type ChecksumAlgo = "sha1" | "sha256" | "sha384" | "sha512";

export const CHECKSUM_HEX_LENGTH: Record<ChecksumAlgo, number> = { sha1: 40, sha256: 64, sha384: 96, sha512: 128 };
