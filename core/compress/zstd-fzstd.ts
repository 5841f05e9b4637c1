// zstd through fzstd (pure JS) where zlib's zstd is missing or unsafe (zstd.ts decides), fed one block at a time
// by a frame scanner: fzstd decodes everything it is given at once and allocates whatever window a frame header
// asks for (up to 2 GB), so the scanner refuses large windows and oversized blocks before fzstd sees them.
import { Decompress } from "fzstd";
import { MAX_ZSTD_WINDOW, ZstdDataError } from "./zstd-limits.js";

const MAX_BLOCK = 128 * 1024;
const FRAME_MAGIC = 0xfd2fb528;

type Phase = "magic" | "descriptor" | "frameHeader" | "blockHeader" | "blockBody" | "checksum" | "skippableSize" | "skippableBody";

function isSkippableMagic(magic: number): boolean {
  return magic >>> 4 === 0x184d2a5;
}

function littleEndian(bytes: number[], from: number, count: number): number {
  let v = 0;
  for (let i = count - 1; i >= 0; i--) v = v * 256 + bytes[from + i]!;
  return v;
}

/** Follows frame and block boundaries so input can be cut after each block and frame headers checked. */
class FrameScanner {
  private phase: Phase = "magic";
  private header: number[] = [];
  private need = 4;
  private skip = 0;
  private descriptor = 0;
  private checksumFlag = false;
  private lastBlock = false;
  private blockEnded = false;

  /** True when input ended on a frame boundary. */
  get atBoundary(): boolean {
    return this.phase === "magic" && this.header.length === 0;
  }

  /** Cuts a chunk after every block end, so one push into fzstd completes at most one block. */
  split(chunk: Uint8Array): Uint8Array[] {
    const pieces: Uint8Array[] = [];
    let start = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        if (this.skip === 0) this.afterSkip();
      } else {
        this.header.push(chunk[i++]!);
        if (this.header.length === this.need) this.onHeader();
      }
      if (this.blockEnded) {
        this.blockEnded = false;
        pieces.push(chunk.subarray(start, i));
        start = i;
      }
    }
    if (i > start) pieces.push(chunk.subarray(start, i));
    return pieces;
  }

  private expect(phase: Phase, need: number): void {
    this.phase = phase;
    this.header = [];
    this.need = need;
  }

  private skipThen(phase: Phase, count: number): void {
    this.phase = phase;
    this.header = [];
    this.skip = count;
    if (count === 0) this.afterSkip();
  }

  private onHeader(): void {
    const h = this.header;
    switch (this.phase) {
      case "magic": {
        const magic = littleEndian(h, 0, 4);
        if (magic === FRAME_MAGIC) this.expect("descriptor", 1);
        else if (isSkippableMagic(magic)) this.expect("skippableSize", 4);
        else throw new ZstdDataError("not zstd data (bad frame magic)");
        return;
      }
      case "descriptor":
        this.onDescriptor(h[0]!);
        return;
      case "frameHeader":
        this.checkWindow(h);
        this.expect("blockHeader", 3);
        return;
      case "blockHeader":
        this.onBlockHeader(littleEndian(h, 0, 3));
        return;
      case "skippableSize":
        this.skipThen("skippableBody", littleEndian(h, 0, 4));
        return;
      default:
        throw new ZstdDataError("internal: unexpected scanner phase");
    }
  }

  private onDescriptor(d: number): void {
    if (d & 0x08) throw new ZstdDataError("invalid frame header (reserved bit set)");
    this.descriptor = d;
    this.checksumFlag = (d & 0x04) !== 0;
    const singleSegment = (d & 0x20) !== 0;
    const fcsFlag = d >> 6;
    const dictBytes = [0, 1, 2, 4][d & 3]!;
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
    const rest = (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
    this.expect("frameHeader", rest);
    if (rest === 0) this.onHeader();
  }

  /** The window the decoder must allocate: from the window descriptor, or the content size for single-segment frames. */
  private checkWindow(h: number[]): void {
    const d = this.descriptor;
    const singleSegment = (d & 0x20) !== 0;
    let window: number;
    if (!singleSegment) {
      const wd = h[0]!;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    } else {
      const dictBytes = [0, 1, 2, 4][d & 3]!;
      const fcsFlag = d >> 6;
      const fcsBytes = fcsFlag === 0 ? 1 : [0, 2, 4, 8][fcsFlag]!;
      window = littleEndian(h, dictBytes, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
    }
    if (window > MAX_ZSTD_WINDOW) {
      throw new ZstdDataError(`frame needs a ${Math.ceil(window / 1048576)} MiB window; more than ${MAX_ZSTD_WINDOW / 1048576} MiB is refused`);
    }
    this.lastBlock = false;
  }

  private onBlockHeader(v: number): void {
    this.lastBlock = (v & 1) === 1;
    const type = (v >> 1) & 3;
    const size = v >>> 3;
    if (type === 3) throw new ZstdDataError("invalid block type");
    if (size > MAX_BLOCK) throw new ZstdDataError("block larger than 128 KiB");
    this.skipThen("blockBody", type === 1 ? 1 : size);
  }

  private afterSkip(): void {
    if (this.phase === "skippableBody" || this.phase === "checksum") return this.expect("magic", 4);
    if (this.phase !== "blockBody") return;
    this.blockEnded = true;
    if (!this.lastBlock) return this.expect("blockHeader", 3);
    if (this.checksumFlag) return this.skipThen("checksum", 4);
    this.expect("magic", 4);
  }
}

/** Decompresses zstd data (any number of frames) from an async source of bytes. */
export async function* unzstdFzstd(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const scanner = new FrameScanner();
  let pending: Buffer[] = [];
  const decoder = new Decompress((chunk) => {
    if (chunk.length > 0) pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });
  for await (const chunk of source) {
    for (const piece of scanner.split(chunk)) {
      decoder.push(piece);
      const out = pending;
      pending = [];
      yield* out;
    }
  }
  if (!scanner.atBoundary) throw new ZstdDataError("compressed data is truncated");
  // fzstd waits for 18 bytes before it reads a frame header: a tiny last frame is decoded only now.
  decoder.push(new Uint8Array(0), true);
  yield* pending;
}
