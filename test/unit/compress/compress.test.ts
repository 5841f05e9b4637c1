// Tests of core/compress/compress.ts and core/storage/put-stream.ts: our generated metadata, compressed into the pool.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compressStream, outputCompressionFor, type OutputCompression } from "../../../core/compress/compress.js";
import { decompressIterable } from "../../../core/compress/decompress.js";
import { FilesystemBlobStore } from "../../../core/storage/pool.js";
import { putStream } from "../../../core/storage/put-stream.js";
import { toolMissing } from "../../helpers/tools.js";

const dir = mkdtempSync(join(tmpdir(), "chantal-compress-"));
const blobs = new FilesystemBlobStore(join(dir, "pool"), join(dir, "tmp"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function* text(): AsyncGenerator<string> {
  for (let i = 0; i < 2000; i++) yield `<package n="${i}">ü</package>\n`;
}

async function* from(...items: Buffer[]): AsyncGenerator<Buffer> {
  yield* items;
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of it) parts.push(b);
  return Buffer.concat(parts);
}

const yes = (): boolean => true;
const no = (): boolean => false;

describe("outputCompressionFor", () => {
  it.each([
    ["gz", yes, "gz", false],
    ["none", yes, "none", false],
    ["bz2", yes, "gz", true],
    ["xz", yes, "xz", false],
    ["xz", no, "gz", true],
  ] as const)("%s upstream is written as expected", (kind, installed, expected, fallback) => {
    const r = outputCompressionFor(kind, installed);
    expect(r.kind).toBe(expected);
    expect(r.fallback !== undefined).toBe(fallback);
  });

  it("zstd falls back to gzip only when neither zlib nor the zstd program can write it", () => {
    const r = outputCompressionFor("zst", () => false);
    expect(["zst", "gz"]).toContain(r.kind);
    if (r.kind === "gz") expect(r.fallback).toMatch(/zstd program is not installed/);
  });
});

describe("putStream", () => {
  const kinds: OutputCompression[] = ["gz", "xz", "zst", "none"];
  for (const kind of kinds) {
    it.skipIf((kind === "xz" && toolMissing("xz")) || (kind === "zst" && toolMissing("zstd")))(
      `${kind}: round trip, hashes and sizes, the same bytes twice`,
      async () => {
        const put = await putStream(blobs, text(), compressStream(kind));
        const stored = await collect(blobs.openRead(put.sha256) as AsyncIterable<Buffer>);
        expect(createHash("sha256").update(stored).digest("hex")).toBe(put.sha256);
        expect(stored.length).toBe(put.size);
        const plain = await collect(decompressIterable(from(stored), kind === "zst" ? "zst" : kind, { maxOutputBytes: 1e8 }));
        expect(plain.length).toBe(put.openSize);
        expect(createHash("sha256").update(plain).digest("hex")).toBe(put.openSha256);
        expect(plain.toString("utf8").split("\n")[1]).toBe('<package n="1">ü</package>');
        expect((await putStream(blobs, text(), compressStream(kind))).sha256).toBe(put.sha256);
      },
    );
  }
});
