// A streaming bzip2 decoder. The npm ones either decode whole buffers (seek-bzip) or a whole block into a
// JS array without backpressure (unbzip2-stream: 2 GB RSS on a 1 GB bomb); this one decodes one block
// (at most ~1 MB in, 3.6 MB of tables) and yields its output in 64 KiB pieces only as fast as they are read.
// Format reference: bzip2 1.0.8 decompress.c / huffman.c; concatenated streams (pbzip2, lbzip2) are read too.

export class Bzip2DataError extends Error {}

/** Thrown by the bit reader when the buffered input ends before the unit being decoded does. */
const NEED_MORE_INPUT = Symbol("need more input");

const OUTPUT_PIECE = 64 * 1024;
/** A legitimate block compresses to under ~905 KB: with this much buffered, one attempt decodes it. */
const BLOCK_ATTEMPT_BYTES = 1024 * 1024;
const GROUP_SIZE = 50;
const MAX_GROUPS = 6;
const MAX_ALPHA = 258;
const MAX_CODE_LEN = 20;
const MAX_SELECTORS = 18002;
const RUNA = 0;
const RUNB = 1;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** Reads bits MSB-first from buffered input; mark()/reset() let a unit be retried when more input arrives. */
class BitReader {
  private buf = new Uint8Array(0);
  private pos = 0;
  private acc = 0;
  private accBits = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  final = false;

  append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /** Bytes not yet consumed, counting whole bytes still in the accumulator. */
  available(): number {
    return this.buf.length - this.pos + this.pendingBytes + (this.accBits >> 3);
  }

  /** Joins pending chunks onto the unread rest so the decoder reads one contiguous buffer. */
  consolidate(): void {
    if (this.pending.length === 0) return;
    const rest = this.buf.subarray(this.pos);
    const joined = new Uint8Array(rest.length + this.pendingBytes);
    joined.set(rest, 0);
    let at = rest.length;
    for (const c of this.pending) {
      joined.set(c, at);
      at += c.length;
    }
    this.buf = joined;
    this.pos = 0;
    this.pending = [];
    this.pendingBytes = 0;
  }

  mark(): [number, number, number] {
    return [this.pos, this.acc, this.accBits];
  }

  reset([pos, acc, accBits]: [number, number, number]): void {
    this.pos = pos;
    this.acc = acc;
    this.accBits = accBits;
  }

  /** n <= 24 bits. */
  bits(n: number): number {
    while (this.accBits < n) {
      if (this.pos >= this.buf.length) {
        if (this.final) throw new Bzip2DataError("compressed data is truncated");
        throw NEED_MORE_INPUT;
      }
      this.acc = ((this.acc << 8) | this.buf[this.pos++]!) >>> 0;
      this.accBits += 8;
    }
    this.accBits -= n;
    return (this.acc >>> this.accBits) & ((1 << n) - 1);
  }

  bit(): number {
    return this.bits(1);
  }

  uint32(): number {
    return ((this.bits(16) << 16) | this.bits(16)) >>> 0;
  }

  alignToByte(): void {
    this.accBits -= this.accBits & 7;
  }
}

/** Canonical Huffman decoding tables for one coding group (bzip2's limit/base/perm scheme). */
interface HuffmanGroup {
  minLen: number;
  limit: Int32Array;
  base: Int32Array;
  perm: Uint16Array;
}

function buildGroup(lengths: Uint8Array, alphaSize: number): HuffmanGroup {
  let minLen = 32;
  let maxLen = 0;
  for (let i = 0; i < alphaSize; i++) {
    minLen = Math.min(minLen, lengths[i]!);
    maxLen = Math.max(maxLen, lengths[i]!);
  }
  const perm = new Uint16Array(MAX_ALPHA);
  let pp = 0;
  for (let len = minLen; len <= maxLen; len++) for (let s = 0; s < alphaSize; s++) if (lengths[s] === len) perm[pp++] = s;
  const base = new Int32Array(MAX_CODE_LEN + 3);
  for (let s = 0; s < alphaSize; s++) base[lengths[s]! + 1]!++;
  for (let i = 1; i < base.length; i++) base[i]! += base[i - 1]!;
  const limit = new Int32Array(MAX_CODE_LEN + 3);
  let vec = 0;
  for (let len = minLen; len <= maxLen; len++) {
    vec += base[len + 1]! - base[len]!;
    limit[len] = vec - 1;
    vec <<= 1;
  }
  for (let len = minLen + 1; len <= maxLen; len++) base[len] = ((limit[len - 1]! + 1) << 1) - base[len]!;
  return { minLen, limit, base, perm };
}

function decodeSymbol(r: BitReader, g: HuffmanGroup, alphaSize: number): number {
  let len = g.minLen;
  let code = r.bits(len);
  while (code > g.limit[len]!) {
    if (++len > MAX_CODE_LEN) throw new Bzip2DataError("invalid Huffman code");
    code = (code << 1) | r.bit();
  }
  const index = code - g.base[len]!;
  if (index < 0 || index >= alphaSize) throw new Bzip2DataError("invalid Huffman code");
  return g.perm[index]!;
}

/** Per-stream state; tt is reused across blocks (4 bytes per symbol, up to 900k symbols). */
interface StreamState {
  phase: "header" | "blocks" | "between";
  blockSizeMax: number;
  tt: Uint32Array;
  combinedCrc: number;
}

interface Block {
  crc: number;
  origPtr: number;
  length: number;
  counts: Uint32Array;
}

function readSymbolMap(r: BitReader): Uint8Array {
  const used16 = r.bits(16);
  const symbols: number[] = [];
  for (let i = 0; i < 16; i++) {
    if (!(used16 & (0x8000 >> i))) continue;
    const used = r.bits(16);
    for (let j = 0; j < 16; j++) if (used & (0x8000 >> j)) symbols.push(i * 16 + j);
  }
  if (symbols.length === 0) throw new Bzip2DataError("a block uses no symbols");
  return Uint8Array.from(symbols);
}

function readSelectors(r: BitReader, groups: number): Uint8Array {
  const count = r.bits(15);
  if (count < 1) throw new Bzip2DataError("a block has no selectors");
  const mtf = [0, 1, 2, 3, 4, 5].slice(0, groups);
  // bzip2 1.0.8 (CVE-2019-12900): selectors past the maximum are read and ignored.
  const selectors = new Uint8Array(Math.min(count, MAX_SELECTORS));
  for (let i = 0; i < count; i++) {
    let j = 0;
    while (r.bit()) if (++j >= groups) throw new Bzip2DataError("invalid selector");
    const g = mtf[j]!;
    mtf.splice(j, 1);
    mtf.unshift(g);
    if (i < selectors.length) selectors[i] = g;
  }
  return selectors;
}

function readGroups(r: BitReader, groups: number, alphaSize: number): HuffmanGroup[] {
  const out: HuffmanGroup[] = [];
  const lengths = new Uint8Array(MAX_ALPHA);
  for (let t = 0; t < groups; t++) {
    let len = r.bits(5);
    for (let s = 0; s < alphaSize; s++) {
      for (;;) {
        if (len < 1 || len > MAX_CODE_LEN) throw new Bzip2DataError("invalid code length");
        if (!r.bit()) break;
        len += r.bit() ? -1 : 1;
      }
      lengths[s] = len;
    }
    out.push(buildGroup(lengths, alphaSize));
  }
  return out;
}

/** Huffman + MTF + RUNA/RUNB decoding of one block into s.tt (low byte of each entry). */
function readBlockSymbols(
  r: BitReader,
  s: StreamState,
  symbolMap: Uint8Array,
  selectors: Uint8Array,
  groups: HuffmanGroup[],
): { length: number; counts: Uint32Array } {
  const alphaSize = symbolMap.length + 2;
  const endOfBlock = symbolMap.length + 1;
  const counts = new Uint32Array(256);
  const mtf = Uint8Array.from(symbolMap.keys());
  const tt = s.tt;
  let length = 0;
  let selectorIndex = 0;
  let groupLeft = 0;
  let group = groups[0]!;
  const next = (): number => {
    if (groupLeft === 0) {
      if (selectorIndex >= selectors.length) throw new Bzip2DataError("ran out of selectors");
      group = groups[selectors[selectorIndex++]!]!;
      groupLeft = GROUP_SIZE;
    }
    groupLeft--;
    return decodeSymbol(r, group, alphaSize);
  };
  let sym = next();
  while (sym !== endOfBlock) {
    if (sym === RUNA || sym === RUNB) {
      let run = 0;
      for (let weight = 1; sym === RUNA || sym === RUNB; weight <<= 1) {
        if (weight > s.blockSizeMax) throw new Bzip2DataError("run too long");
        run += sym === RUNA ? weight : 2 * weight;
        sym = next();
      }
      if (length + run > s.blockSizeMax) throw new Bzip2DataError("block is larger than declared");
      const byte = symbolMap[mtf[0]!]!;
      counts[byte]! += run;
      tt.fill(byte, length, length + run);
      length += run;
      continue;
    }
    if (length >= s.blockSizeMax) throw new Bzip2DataError("block is larger than declared");
    const position = sym - 1;
    const index = mtf[position]!;
    mtf.copyWithin(1, 0, position);
    mtf[0] = index;
    const byte = symbolMap[index]!;
    counts[byte]!++;
    tt[length++] = byte;
    sym = next();
  }
  return { length, counts };
}

function readBlock(r: BitReader, s: StreamState): Block {
  const crc = r.uint32();
  if (r.bit()) throw new Bzip2DataError("randomised blocks (bzip2 < 0.9.5) are not supported");
  const origPtr = r.bits(24);
  const symbolMap = readSymbolMap(r);
  const groupCount = r.bits(3);
  if (groupCount < 2 || groupCount > MAX_GROUPS) throw new Bzip2DataError("invalid number of Huffman groups");
  const selectors = readSelectors(r, groupCount);
  const groups = readGroups(r, groupCount, symbolMap.length + 2);
  const { length, counts } = readBlockSymbols(r, s, symbolMap, selectors, groups);
  if (origPtr >= length) throw new Bzip2DataError("invalid block origin pointer");
  return { crc, origPtr, length, counts };
}

/** Inverse BWT (links stored in the upper 24 bits of tt), then bzip2's run-length stage, yielding 64 KiB pieces. */
function* blockOutput(s: StreamState, block: Block): Generator<Buffer> {
  const tt = s.tt;
  const next = new Uint32Array(256);
  for (let i = 0, sum = 0; i < 256; i++) {
    next[i] = sum;
    sum += block.counts[i]!;
  }
  for (let i = 0; i < block.length; i++) {
    const byte = tt[i]! & 0xff;
    tt[next[byte]!]! |= i << 8;
    next[byte]!++;
  }
  let pos = tt[block.origPtr]! >>> 8;
  let crc = 0xffffffff;
  let out = Buffer.allocUnsafe(OUTPUT_PIECE);
  let used = 0;
  let last = -1;
  let run = 0;
  for (let k = 0; k < block.length; k++) {
    const entry = tt[pos]!;
    const byte = entry & 0xff;
    pos = entry >>> 8;
    // After four equal bytes the next symbol is a repeat count, not data.
    let repeat = 1;
    let value = byte;
    if (run === 4) {
      repeat = byte;
      value = last;
      run = 0;
    } else if (byte === last) {
      run++;
    } else {
      last = byte;
      run = 1;
    }
    for (let n = 0; n < repeat; n++) {
      crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ value) & 0xff]!) >>> 0;
      out[used++] = value;
      if (used === OUTPUT_PIECE) {
        yield out;
        out = Buffer.allocUnsafe(OUTPUT_PIECE);
        used = 0;
      }
    }
  }
  if (used > 0) yield out.subarray(0, used);
  crc = ~crc >>> 0;
  if (crc !== block.crc) throw new Bzip2DataError("block checksum mismatch: the data is corrupt");
  s.combinedCrc = (((s.combinedCrc << 1) | (s.combinedCrc >>> 31)) ^ crc) >>> 0;
}

function readStreamHeader(r: BitReader, s: StreamState): void {
  const first = s.phase === "header";
  const b = r.bits(8);
  const z = r.bits(8);
  const h = r.bits(8);
  const level = r.bits(8) - 0x30;
  if (b !== 0x42 || z !== 0x5a || h !== 0x68 || level < 1 || level > 9) {
    throw new Bzip2DataError(first ? "not bzip2 data (bad magic)" : "unexpected data after the end of the bzip2 stream");
  }
  s.blockSizeMax = level * 100_000;
  if (s.tt.length < s.blockSizeMax) s.tt = new Uint32Array(s.blockSizeMax);
  s.combinedCrc = 0;
  s.phase = "blocks";
}

const BLOCK_MAGIC = 0x314159265359;
const END_MAGIC = 0x177245385090;

/** Decodes every unit the buffered input holds; returns when it needs more input or is done. */
function* decodeBuffered(r: BitReader, s: StreamState): Generator<Buffer> {
  for (;;) {
    // Between streams, or before any input at the very end: nothing more to decode.
    if (s.phase !== "blocks" && r.available() === 0 && (s.phase === "between" || r.final)) return;
    if (s.phase === "blocks" && !r.final && r.available() < BLOCK_ATTEMPT_BYTES) return;
    r.consolidate();
    const mark = r.mark();
    let block: Block;
    try {
      if (s.phase !== "blocks") {
        readStreamHeader(r, s);
        continue;
      }
      const magic = r.bits(24) * 0x1000000 + r.bits(24);
      if (magic === END_MAGIC) {
        if (r.uint32() !== s.combinedCrc) throw new Bzip2DataError("stream checksum mismatch: the data is corrupt");
        r.alignToByte();
        s.phase = "between";
        continue;
      }
      if (magic !== BLOCK_MAGIC) throw new Bzip2DataError("invalid block header");
      block = readBlock(r, s);
    } catch (err) {
      if (err !== NEED_MORE_INPUT) throw err;
      r.reset(mark);
      return;
    }
    yield* blockOutput(s, block);
  }
}

/** Decompresses bzip2 data (one or more concatenated streams) from an async source of bytes. */
export async function* bunzip2(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const r = new BitReader();
  const s: StreamState = { phase: "header", blockSizeMax: 0, tt: new Uint32Array(0), combinedCrc: 0 };
  for await (const chunk of source) {
    r.append(chunk);
    yield* decodeBuffered(r, s);
  }
  r.final = true;
  yield* decodeBuffered(r, s);
  if (s.phase === "header") throw new Bzip2DataError("no bzip2 data (empty input)");
  if (s.phase === "blocks") throw new Bzip2DataError("compressed data is truncated");
}
