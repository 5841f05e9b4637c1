// Both zstd decoders (zlib's on Node >= 22.15 and fzstd elsewhere) against the real zstd tool, and the choice between them.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { unzstdZlib, zlibZstdProblem, zstdDecoder, type ZlibZstd } from "../../../core/compress/zstd.js";
import { MAX_ZSTD_WINDOW } from "../../../core/compress/zstd-limits.js";
import { unzstdFzstd } from "../../../core/compress/zstd-fzstd.js";
import { runWithInput } from "../../helpers/rpm-fixtures.js";
import { toolMissing } from "../../helpers/tools.js";
import { rejection } from "../../helpers/assert.js";

const nodeMajor = Number(process.versions.node.split(".")[0]);
const zlibUsable = zlibZstdProblem() === undefined;

function zstd(data: Buffer, args: string[] = []): Promise<Buffer> {
  return runWithInput("zstd", ["-q", "-c", ...args], data);
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

type Decoder = (source: AsyncIterable<Uint8Array>) => AsyncIterable<Buffer>;

async function decode(decoder: Decoder, data: Buffer, chunkSize = 64 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of decoder(chunked(data, chunkSize))) parts.push(c);
  return Buffer.concat(parts);
}

const FRAME_START = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const text = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `<package><name>pkg${i}</name></package>\n`).join(""));
const sample = Buffer.concat([text, randomBytes(200_000), Buffer.alloc(300_000)]);

const DECODERS: { name: string; decoder: Decoder; available: boolean; blockTooLarge: RegExp }[] = [
  { name: "zlib", decoder: unzstdZlib, available: zlibUsable, blockTooLarge: /corruption/ },
  { name: "fzstd", decoder: unzstdFzstd, available: true, blockTooLarge: /block larger than 128 KiB/ },
];

for (const { name, decoder, available, blockTooLarge } of DECODERS) {
  describe.skipIf(!available || toolMissing("zstd"))(`zstd through ${name}`, () => {
    it("decodes what the zstd tool wrote: levels, checksums, several frames, tiny input chunks", async () => {
      for (const args of [["-1"], ["-19", "--check"], ["--no-check"]]) {
        expect(sha256(await decode(decoder, await zstd(sample, args)))).toBe(sha256(sample));
      }
      const frames = Buffer.concat([await zstd(Buffer.from("first\n")), await zstd(sample)]);
      const first = await zstd(Buffer.from("first\n"));
      // Frames ending inside a chunk, exactly at a chunk's end, and all in one chunk.
      for (const size of [7, first.length, frames.length]) {
        expect(sha256(await decode(decoder, frames, size))).toBe(sha256(Buffer.concat([Buffer.from("first\n"), sample])));
      }
      expect((await decode(decoder, await zstd(Buffer.alloc(0)))).length).toBe(0);
    });

    it("refuses truncated data, also when only the checksum is cut", async () => {
      const packed = await zstd(sample, ["--check"]);
      for (const cut of [Math.floor(packed.length / 2), packed.length - 2]) {
        expect((await rejection(decode(decoder, packed.subarray(0, cut)))).message).toMatch(/truncated/);
      }
    });

    it("refuses corrupted data and plain text", async () => {
      const packed = Buffer.from(await zstd(sample));
      for (let i = 40; i < packed.length - 40; i += 97) packed[i] = packed[i]! ^ 0x55;
      await expect(decode(decoder, packed)).rejects.toThrow();
      await expect(decode(decoder, Buffer.from("not zstd at all, just text\n".repeat(5)))).rejects.toThrow();
    });

    it("keeps the window limit: 32 MiB (zstd --long=25) is read, 64 MiB (--long=26) refused", async () => {
      const zeros = Buffer.alloc(40 * 1024 * 1024);
      expect(MAX_ZSTD_WINDOW).toBe(32 * 1024 * 1024);
      expect((await decode(decoder, await zstd(zeros, ["--long=25"]))).length).toBe(zeros.length);
      expect((await rejection(decode(decoder, await zstd(zeros, ["--long=26"])))).message).toMatch(/window.*32 MiB/);
    });

    it("refuses a hand-made frame asking for a 1 GiB window, and a single-segment frame of 2 GiB", async () => {
      // descriptor 0, window descriptor exponent 20 -> 2^30, then one raw block "x".
      const huge = Buffer.concat([FRAME_START, Buffer.from([0x00, 20 << 3, 0x09, 0x00, 0x00, 0x78])]);
      expect((await rejection(decode(decoder, huge))).message).toMatch(/window.*32 MiB/);
      const size = Buffer.alloc(8);
      size.writeBigUInt64LE(2n ** 31n);
      const singleSegment = Buffer.concat([FRAME_START, Buffer.from([0xe0]), size, Buffer.from([0x09, 0x00, 0x00, 0x78])]);
      expect((await rejection(decode(decoder, singleSegment))).message).toMatch(/window/);
    });

    it("refuses a block larger than 128 KiB", async () => {
      // RLE block (type 1) of 1 MiB: header = last | type << 1 | size << 3.
      const header = 1 | (1 << 1) | ((1 << 20) << 3);
      const frame = Buffer.concat([FRAME_START, Buffer.from([0x00, 10 << 3, header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x41])]);
      await expect(decode(decoder, frame)).rejects.toThrow(blockTooLarge);
    });

    it("skips skippable frames", async () => {
      const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from("abc")]);
      const raw = Buffer.concat([FRAME_START, Buffer.from([0x00, 10 << 3, 0x09, 0x00, 0x00]), Buffer.from("x")]);
      expect((await decode(decoder, Buffer.concat([skippable, raw]))).toString()).toBe("x");
    });
  });
}

describe("which zstd decoder this Node gets", () => {
  const compress = (data: Buffer) => Buffer.concat([FRAME_START, data]);
  it.each<[string, ZlibZstd, string | undefined]>([
    ["no zstd in zlib (Node 20)", { constants: {} }, "this Node's zlib has no zstd"],
    [
      "zstd that returns a truncated frame's prefix (Node 22.23)",
      {
        createZstdDecompress: () => null as never,
        zstdCompressSync: compress,
        zstdDecompressSync: (d) => d.subarray(4),
        constants: { ZSTD_d_windowLogMax: 100 },
      },
      "this Node's zlib accepts truncated zstd data",
    ],
    [
      "zstd that rejects truncated input (Node 24)",
      {
        createZstdDecompress: () => null as never,
        zstdCompressSync: compress,
        zstdDecompressSync: () => {
          throw new Error("unexpected end of file");
        },
        constants: { ZSTD_d_windowLogMax: 100 },
      },
      undefined,
    ],
  ])("%s", (_name, fake, problem) => {
    expect(zlibZstdProblem(fake)).toBe(problem);
  });

  it.runIf(nodeMajor < 22)("Node before 22 uses fzstd", () => {
    expect(zstdDecoder()).toBe("fzstd");
  });

  it.runIf(nodeMajor >= 24)("Node 24 uses zlib's zstd", () => {
    expect(zlibZstdProblem()).toBeUndefined();
    expect(zstdDecoder()).toBe("zlib");
  });
});
