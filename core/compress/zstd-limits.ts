// What both zstd decoders (zlib's and fzstd) share: the error of bad input and the largest window accepted.
export class ZstdDataError extends Error {}

/** zstd -19 uses 8 MiB and level 20 32 MiB; --ultra/--long beyond that is refused (the decoder would allocate it). */
export const MAX_ZSTD_WINDOW = 32 * 1024 * 1024;
