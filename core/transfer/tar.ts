// POSIX ustar, only what bundles need: one header per whole-blob member (written and parsed here), 512-byte blocks, two zero blocks at the end.

export const TAR_BLOCK = 512;
/** The ustar size field holds 11 octal digits: a member is at most 8 GiB - 1. */
export const TAR_MAX_MEMBER = 8 ** 11 - 1;

/** The bytes a member takes in the archive: its header and its data padded to whole blocks. */
export function tarMemberBytes(size: number): number {
  return TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

/** Zero bytes after `size` bytes of data, up to the next block. */
export function tarPadding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

/** The header of a regular file `name` (at most 100 bytes) of `size` bytes: mode 0644, owner 0:0, mtime `mtime` (seconds). */
export function tarHeader(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(TAR_BLOCK);
  writeTarHeader(h, 0, name, size, mtime);
  return h;
}

/** tarHeader written into `target` at `offset` (a volume's buffer: no block of its own per member). */
export function writeTarHeader(target: Buffer, offset: number, name: string, size: number, mtime: number): void {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar member name ${name} is longer than 100 bytes`);
  if (size > TAR_MAX_MEMBER) throw new Error(`tar member ${name} is ${size} bytes, more than ustar's ${TAR_MAX_MEMBER}`);
  const h = target.subarray(offset, offset + TAR_BLOCK);
  h.fill(0);
  h.write(name, 0, 100, "utf8");
  h.write(octal(0o644, 8), 100, "latin1");
  h.write(octal(0, 8), 108, "latin1");
  h.write(octal(0, 8), 116, "latin1");
  h.write(octal(size, 12), 124, "latin1");
  h.write(octal(Math.max(0, Math.floor(mtime)), 12), 136, "latin1");
  h.write("        ", 148, "latin1");
  h.write("0", 156, "latin1");
  h.write("ustar\0", 257, "latin1");
  h.write("00", 263, "latin1");
  h.write("root", 265, "latin1");
  h.write("root", 297, "latin1");
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += h[i]!;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
}

export interface TarHeaderInfo {
  name: string;
  size: number;
  /** "0" (or NUL) is a regular file; anything else is not a member of a bundle. */
  type: string;
}

/** Parse one header block; null for a zero block (the end); a string for a block that is not a valid ustar header. */
export function parseTarHeader(block: Buffer): TarHeaderInfo | null | string {
  if (block.every((b) => b === 0)) return null;
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  const field = (start: number, length: number) => {
    const raw = block.subarray(start, start + length);
    const end = raw.indexOf(0);
    return raw.subarray(0, end < 0 ? length : end).toString("latin1");
  };
  const declared = Number.parseInt(field(148, 8).trim(), 8);
  if (declared !== sum) return "a tar header with a wrong checksum";
  const sizeText = field(124, 12).trim();
  if (!/^[0-7]+$/.test(sizeText)) return "a tar header whose size is not octal";
  const prefix = field(345, 155);
  const name = block.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
  return { name: prefix ? `${prefix}/${name}` : name, size: Number.parseInt(sizeText, 8), type: field(156, 1) || "0" };
}
