// Tests of core/compress/decompress.ts.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  compressionFromPath,
  decompressIterable,
  decompressStream,
  DecompressionError,
  LimitExceededError,
  type CompressionKind,
} from "../../../core/compress/decompress.js";
import { ChantalError } from "../../../core/errors.js";
import { runWithInput } from "../../helpers/rpm-fixtures.js";
import { toolMissing } from "../../helpers/tools.js";
import { rejection } from "../../helpers/assert.js";

const TOOLS: Record<Exclude<CompressionKind, "none">, { tool: string; args: string[] }> = {
  gz: { tool: "gzip", args: ["-c"] },
  xz: { tool: "xz", args: ["-c", "-T1"] },
  zst: { tool: "zstd", args: ["-q", "-c"] },
  bz2: { tool: "bzip2", args: ["-c"] },
};
const KINDS = Object.keys(TOOLS) as (keyof typeof TOOLS)[];

function compress(kind: keyof typeof TOOLS, data: Buffer, extra: string[] = []): Promise<Buffer> {
  return runWithInput(TOOLS[kind].tool, [...TOOLS[kind].args, ...extra], data);
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Feeds a buffer as a stream of chunks of the given size. */
async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts);
}

async function decompressAll(kind: CompressionKind, data: Buffer, chunkSize = 64 * 1024, maxOutputBytes = 1 << 30): Promise<Buffer> {
  return collect(decompressIterable(chunked(data, chunkSize), kind, { maxOutputBytes, label: `test.${kind}` }));
}

/** Text, random bytes and long runs: exercises every stage of the decoders (and several bzip2 blocks at -1). */
function sampleData(): Buffer {
  const text = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `<package><name>pkg${i}</name><version ver="1.${i}"/></package>\n`).join(""));
  const runs = Buffer.concat(Array.from({ length: 600 }, (_, i) => Buffer.alloc(i % 300, i & 0xff)));
  const allBytes = Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => i & 0xff));
  return Buffer.concat([text, randomBytes(300_000), runs, allBytes, Buffer.alloc(1_000_000), text.subarray(0, 1000)]);
}

describe("compressionFromPath", () => {
  it.each([
    ["repodata/abc-primary.xml.gz", "gz"],
    ["repodata/abc-primary.xml.GZ", "gz"],
    ["repodata/abc-primary.xml.xz", "xz"],
    ["repodata/abc-primary.xml.zst", "zst"],
    ["repodata/abc-primary.xml.zstd", "zst"],
    ["repodata/abc-primary.sqlite.bz2", "bz2"],
    ["repodata/abc-primary.xml", "none"],
    ["dists/stable/main/binary-amd64/Packages", "none"],
    ["repodata/abc-primary.xml.zck", "none"],
    ["primary.xml.gz?x=1", "gz"],
    ["gz", "none"],
  ])("%s -> %s", (href, kind) => {
    expect(compressionFromPath(href)).toBe(kind);
  });
});

describe("round trips through the real tools", () => {
  const data = sampleData();

  it("passes plain data through unchanged", async () => {
    expect(sha256(await decompressAll("none", data))).toBe(sha256(data));
    expect((await decompressAll("none", Buffer.alloc(0))).length).toBe(0);
  });

  for (const kind of KINDS) {
    describe.skipIf(toolMissing(TOOLS[kind].tool))(kind, () => {
      it("decompresses what the tool compressed, in large and in tiny input chunks", async () => {
        const packed = await compress(kind, data);
        expect(sha256(await decompressAll(kind, packed))).toBe(sha256(data));
        const small = data.subarray(0, 50_000);
        expect(sha256(await decompressAll(kind, await compress(kind, small), 7))).toBe(sha256(small));
      });

      it("decompresses concatenated streams (multi-member files)", async () => {
        const a = Buffer.from("first part\n");
        const b = data.subarray(0, 200_000);
        const packed = Buffer.concat([await compress(kind, a), await compress(kind, b)]);
        expect(sha256(await decompressAll(kind, packed, 1000))).toBe(sha256(Buffer.concat([a, b])));
      });

      it("decompresses a compressed empty file to nothing", async () => {
        expect((await decompressAll(kind, await compress(kind, Buffer.alloc(0)))).length).toBe(0);
      });

      it("refuses truncated data with DecompressionError naming the file", async () => {
        const packed = await compress(kind, data);
        const err = await rejection(decompressAll(kind, packed.subarray(0, Math.floor(packed.length / 2))));
        expect(err).toBeInstanceOf(DecompressionError);
        expect(err.message).toMatch(new RegExp(`^test\\.${kind}: `));
      });

      it("refuses corrupted data", async () => {
        const packed = Buffer.from(await compress(kind, data.subarray(0, 400_000)));
        for (let i = 40; i < packed.length - 40; i += 97) packed[i] = packed[i]! ^ 0x55;
        expect(await rejection(decompressAll(kind, packed))).toBeInstanceOf(DecompressionError);
      });

      it("refuses data in another format and an empty file", async () => {
        const err = await rejection(decompressAll(kind, Buffer.from("this is plain text, not compressed at all\n".repeat(10))));
        expect(err).toBeInstanceOf(DecompressionError);
        const empty = await rejection(decompressAll(kind, Buffer.alloc(0)));
        expect(empty).toBeInstanceOf(DecompressionError);
        expect(empty.message).toMatch(/empty/);
      });
    });
  }

  it.skipIf(toolMissing("bzip2"))("bzip2: every block size, runs across block boundaries", async () => {
    const runs = Buffer.concat([Buffer.alloc(250_000, 0x61), data.subarray(0, 300_000), Buffer.alloc(4, 0x62), Buffer.alloc(5, 0x63)]);
    for (const level of ["-1", "-5", "-9"]) {
      expect(sha256(await decompressAll("bz2", await compress("bz2", runs, [level]), 4096))).toBe(sha256(runs));
    }
  });

  it.skipIf(toolMissing("xz"))("xz: reads crc32, crc64 and no-check streams; refuses sha256 checks clearly", async () => {
    const small = data.subarray(0, 10_000);
    for (const check of ["none", "crc32", "crc64"]) {
      expect(sha256(await decompressAll("xz", await compress("xz", small, [`--check=${check}`])))).toBe(sha256(small));
    }
    const err = await rejection(decompressAll("xz", await compress("xz", small, ["--check=sha256"])));
    expect(err).toBeInstanceOf(DecompressionError);
    expect(err.message).toMatch(/SHA-256/);
  });

  it.skipIf(toolMissing("zstd"))("zstd: reads frames with checksums and high levels", async () => {
    const small = data.subarray(0, 500_000);
    expect(sha256(await decompressAll("zst", await compress("zst", small, ["-19", "--check"]), 999))).toBe(sha256(small));
  });
});

describe("zstd frames that would make the decoder allocate or copy too much (zlib's or fzstd, whichever this Node uses)", () => {
  const frameStart = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

  it("refuses a frame asking for a 1 GiB window", async () => {
    // descriptor 0 (no single segment, no checksum), window descriptor exponent 20 -> 2^30, then one raw block "x".
    const frame = Buffer.concat([frameStart, Buffer.from([0x00, 20 << 3, 0x09, 0x00, 0x00, 0x78])]);
    const err = await rejection(decompressAll("zst", frame));
    expect(err).toBeInstanceOf(DecompressionError);
    expect(err.message).toMatch(/window.*32 MiB/);
  });

  it("refuses a single-segment frame whose content size is 2 GiB", async () => {
    // descriptor 0xe0: 8-byte content size, single segment.
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(2n ** 31n);
    const frame = Buffer.concat([frameStart, Buffer.from([0xe0]), size, Buffer.from([0x09, 0x00, 0x00, 0x78])]);
    expect((await rejection(decompressAll("zst", frame))).message).toMatch(/window/);
  });

  it("refuses a block larger than 128 KiB", async () => {
    // RLE block (type 1) of 1 MiB: header = last | type << 1 | size << 3.
    const header = 1 | (1 << 1) | ((1 << 20) << 3);
    const frame = Buffer.concat([frameStart, Buffer.from([0x00, 10 << 3, header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x41])]);
    expect(await rejection(decompressAll("zst", frame))).toBeInstanceOf(DecompressionError);
  });

  it("skips skippable frames", async () => {
    const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from("abc")]);
    // One raw block of 1 byte: header = last(1) | raw(0) << 1 | size(1) << 3 = 9.
    const raw = Buffer.concat([frameStart, Buffer.from([0x00, 10 << 3, 0x09, 0x00, 0x00]), Buffer.from("x")]);
    expect((await decompressAll("zst", Buffer.concat([skippable, raw]))).toString()).toBe("x");
  });
});

describe("output limit", () => {
  it("stops at the limit with LimitExceededError (plain data too)", async () => {
    const err = await rejection(decompressAll("none", Buffer.alloc(5000), 1000, 4096));
    expect(err).toBeInstanceOf(LimitExceededError);
    expect(err).toBeInstanceOf(ChantalError);
    expect((err as LimitExceededError).limit).toBe("maxOutputBytes");
    expect((err as LimitExceededError).max).toBe(4096);
    expect(err.message).toMatch(/^test\.none: decompresses to more than 4 KiB/);
  });

  it("lets exactly the declared size through, and ignores a declared size above the limit", async () => {
    const declared = (bytes: number) => ({ maxOutputBytes: 4096, label: "t", declared: { bytes, by: "the Release" } });
    expect((await collect(decompressIterable(chunked(Buffer.alloc(3000), 1000), "none", declared(3000)))).length).toBe(3000);
    await expect(collect(decompressIterable(chunked(Buffer.alloc(3001), 1000), "none", declared(3000)))).rejects.toThrow(
      /^t: decompresses to more than the 3000 bytes of the Release/,
    );
    await expect(collect(decompressIterable(chunked(Buffer.alloc(5000), 1000), "none", declared(1 << 30)))).rejects.toThrow(
      /^t: decompresses to more than 4 KiB \(the limit\)/,
    );
  });

  it("lets exactly the limit through", async () => {
    expect((await decompressAll("none", Buffer.alloc(4096), 1000, 4096)).length).toBe(4096);
  });

  describe("decompression bombs: 1 GiB of zeros", () => {
    const GiB = 1024 * 1024 * 1024;
    const LIMIT = 32 * 1024 * 1024;
    const files = new Map<string, string>();
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "chantal-bomb-"));
      const zeros = Buffer.alloc(64 * 1024 * 1024);
      // 16 concatenated 64 MiB members decompress to 1 GiB, and take a fraction of the time to make.
      await Promise.all(
        KINDS.filter((k) => !toolMissing(TOOLS[k].tool)).map(async (kind) => {
          const member = await compress(kind, zeros, kind === "xz" ? ["-0"] : kind === "gz" || kind === "bz2" ? ["-9"] : ["-3"]);
          const path = join(dir, `bomb.${kind}`);
          await writeFile(path, Buffer.concat(Array.from({ length: GiB / zeros.length }, () => member)));
          files.set(kind, path);
        }),
      );
    }, 120_000);

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    for (const kind of KINDS) {
      it.skipIf(toolMissing(TOOLS[kind].tool))(`${kind}: stopped at the limit, quickly, with bounded memory`, async () => {
        const before = process.memoryUsage().rss;
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
        const started = Date.now();
        let seen = 0;
        const err = await rejection(
          (async () => {
            for await (const chunk of decompressIterable(createReadStream(files.get(kind)!), kind, { maxOutputBytes: LIMIT, label: `bomb.${kind}` })) {
              seen += chunk.length;
            }
          })(),
        );
        clearInterval(sampler);
        peak = Math.max(peak, process.memoryUsage().rss);
        expect(err).toBeInstanceOf(LimitExceededError);
        expect(err.message).toMatch(new RegExp(`^bomb\\.${kind}: decompresses to more than 32 MiB`));
        expect(seen).toBeLessThanOrEqual(LIMIT);
        expect(Date.now() - started).toBeLessThan(10_000);
        // Lenient: the point is "not 1 GiB", whatever the garbage collector does meanwhile.
        expect(peak - before).toBeLessThan(256 * 1024 * 1024);
      });
    }

    for (const kind of KINDS) {
      it.skipIf(toolMissing(TOOLS[kind].tool))(`${kind}: stopped as soon as the output exceeds the declared size, far below the limit`, async () => {
        let seen = 0;
        const err = await rejection(
          (async () => {
            const opts = { maxOutputBytes: 4 * GiB, label: `bomb.${kind}`, declared: { bytes: 100_000, by: "its <open-size> in repomd.xml" } };
            for await (const chunk of decompressIterable(createReadStream(files.get(kind)!), kind, opts)) seen += chunk.length;
          })(),
        );
        expect(err).toBeInstanceOf(LimitExceededError);
        expect((err as LimitExceededError).limit).toBe("declaredSize");
        expect(err.message).toBe(
          `bomb.${kind}: decompresses to more than the 100000 bytes of its <open-size> in repomd.xml; refusing it (a decompression bomb, or metadata that does not match its index)`,
        );
        expect(seen).toBeLessThanOrEqual(100_000);
      });
    }

    it.skipIf(toolMissing("gzip"))("through the Duplex: the pipeline fails with LimitExceededError", async () => {
      const err = await rejection(
        pipeline(
          createReadStream(files.get("gz")!),
          decompressStream("gz", { maxOutputBytes: LIMIT, label: "bomb.gz" }),
          new Writable({ write: (_c, _e, cb) => cb() }),
        ),
      );
      expect(err).toBeInstanceOf(LimitExceededError);
    });
  });
});

describe("streaming behaviour", () => {
  it("works as a Duplex in a pipeline", async () => {
    const data = sampleData();
    const packed = await compress("gz", data);
    const parts: Buffer[] = [];
    await pipeline(
      Readable.from(chunked(packed, 10_000)),
      decompressStream("gz", { maxOutputBytes: 1 << 30 }),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          parts.push(chunk);
          cb();
        },
      }),
    );
    expect(sha256(Buffer.concat(parts))).toBe(sha256(data));
  });

  it.each(["none", "gz", "zst", "xz", "bz2"] as const)("%s: reads the source only as fast as output is consumed", async (kind) => {
    if (kind !== "none" && toolMissing(TOOLS[kind].tool)) return;
    const data = randomBytes(3 * 1024 * 1024);
    const packed = kind === "none" ? data : await compress(kind, data);
    let pulled = 0;
    async function* source(): AsyncGenerator<Buffer> {
      for (let i = 0; i < packed.length; i += 16 * 1024) {
        pulled += 16 * 1024;
        yield packed.subarray(i, i + 16 * 1024);
      }
    }
    const it = decompressIterable(source(), kind, { maxOutputBytes: 1 << 30 })[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    await it.return(undefined);
    // bzip2 needs a whole ~1 MB block before its first output; the others a few chunks.
    expect(pulled).toBeLessThan(2 * 1024 * 1024);
  });

  it("passes errors of the source through unchanged", async () => {
    const boom = new Error("network went away");
    // Each format's first two magic bytes: a decoder that checks its magic early still waits for more.
    const starts = { gz: [0x1f, 0x8b], xz: [0xfd, 0x37], zst: [0x28, 0xb5], bz2: [0x42, 0x5a], none: [0x1f, 0x8b] };
    async function* source(start: number[]): AsyncGenerator<Buffer> {
      yield Buffer.from(start);
      throw boom;
    }
    for (const kind of ["gz", "xz", "zst", "bz2", "none"] as const) {
      expect(await rejection(collect(decompressIterable(source(starts[kind]), kind, { maxOutputBytes: 1000 })))).toBe(boom);
    }
  });
});
