// Tests of core/transfer/bundle-write.ts and bundle-read.ts on a temporary directory: blobs written from a store, read back verified, partial consumers, damage.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, describe, expect, it } from "vitest";
import type { BlobStore } from "../../../core/storage/blob-store.js";
import { FilesystemBlobStore } from "../../../core/storage/pool.js";
import { readBlobs } from "../../../core/transfer/bundle-read.js";
import { PoolBlobCorruptError, writeBlobDirectory, writeBlobVolumes } from "../../../core/transfer/bundle-write.js";
import { BundleInvalidError, type Manifest } from "../../../core/transfer/manifest.js";
import { planExport } from "../../../core/transfer/plan.js";

const scratch = mkdtempSync(join(tmpdir(), "chantal-bundle-read-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const data = [Buffer.alloc(0), Buffer.from("x"), Buffer.alloc(511, 1), Buffer.alloc(512, 2), Buffer.alloc(3 * 1024 * 1024 + 7, 3), Buffer.alloc(20_000, 4)];
const bySha = new Map(data.map((d) => [createHash("sha256").update(d).digest("hex"), d]));
const referenced = [...bySha].map(([sha256, d]) => ({ sha256, size: d.length }));

/** A pool of the blobs above (the store interface, in memory); `bad` serves other bytes for one sha256. */
function store(bad?: string): BlobStore {
  return {
    location: "memory",
    locationOf: (sha: string) => `memory/${sha}`,
    openRead: (sha: string) => Readable.from(sha === bad ? [Buffer.from("not it")] : [bySha.get(sha)!]),
  } as unknown as BlobStore;
}

async function bundle(name: string, format: "dir" | "tar", volumeSize?: number): Promise<{ dir: string; manifest: Pick<Manifest, "blobs" | "volumes"> }> {
  const dir = join(scratch, name);
  execFileSync("mkdir", ["-p", dir]);
  const plan = planExport(referenced, { format, ...(volumeSize ? { volumeSize } : {}) });
  let volumes: Manifest["volumes"] = [];
  if (format === "dir") await writeBlobDirectory(store(), dir, plan, { mtime: 0 });
  else volumes = await writeBlobVolumes(store(), dir, plan, { mtime: 0 });
  return { dir, manifest: { blobs: plan.included.map((b) => ({ sha256: b.sha256, size: b.size, volume: b.volume })), volumes } };
}

const read = (b: { dir: string; manifest: Pick<Manifest, "blobs" | "volumes"> }, opts: Parameters<typeof readBlobs>[2]) =>
  readBlobs(b.dir, b.manifest as Manifest, opts);

describe.each([
  ["dir", undefined],
  ["tar", undefined],
  ["tar", 3_150_000],
] as const)("a %s bundle (volume size %s)", (format, volumeSize) => {
  const name = `${format}-${volumeSize ?? 0}`;

  it("hands over every blob's exact bytes; a consumer that stops early or reads nothing is read past", async () => {
    const b = await bundle(name, format, volumeSize);
    if (format === "tar") {
      expect(b.manifest.volumes.length).toBe(volumeSize ? 2 : 1);
      const members = b.manifest.volumes.flatMap((v) =>
        execFileSync("tar", ["tf", join(b.dir, v.file)], { encoding: "utf8" })
          .trim()
          .split("\n"),
      );
      expect(members.sort()).toEqual(referenced.map((r) => `blobs/${r.sha256}`).sort());
    }
    const got = new Map<string, Buffer>();
    await read(b, {
      onBlob: async (entry, stream) => {
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        got.set(entry.sha256, Buffer.concat(chunks));
      },
    });
    expect([...got.keys()].sort()).toEqual([...bySha.keys()].sort());
    for (const [sha, bytes] of got) expect(bytes.equals(bySha.get(sha)!), sha).toBe(true);
    let n = 0;
    await read(b, {
      onBlob: async (_entry, stream) => {
        if (n++ % 2 === 0) return; // reads nothing
        for await (const _ of stream) break; // one chunk
      },
    });
    expect(n).toBe(referenced.length);
    const skipped: string[] = [];
    const big = referenced.find((r) => r.size > 1_000_000)!.sha256;
    await read(b, { skip: (e) => e.sha256 === big, onBlob: async (e) => void skipped.push(e.sha256) });
    expect(skipped).toHaveLength(referenced.length - 1);
    expect(skipped).not.toContain(big);
  });

  it.each([
    ["small", 20_000, 4],
    ["large", 3 * 1024 * 1024 + 7, 3],
  ])("a damaged %s blob makes the consumer's stream fail before its end; verify mode reports it and goes on", async (kind, size, fill) => {
    const b = await bundle(`${name}-bad-${kind}`, format, volumeSize);
    const victim = referenced.find((r) => r.size === size)!.sha256;
    if (format === "dir") {
      const path = join(b.dir, "blobs", victim.slice(0, 2), victim);
      const bytes = readFileSync(path);
      bytes[100] = 9;
      writeFileSync(path, bytes);
    } else {
      const v = b.manifest.blobs.find((e) => e.sha256 === victim)!.volume!;
      const file = join(b.dir, b.manifest.volumes[v]!.file);
      const bytes = readFileSync(file);
      const at = bytes.indexOf(Buffer.alloc(64, fill));
      bytes[at] = 9;
      writeFileSync(file, bytes);
    }
    const written: string[] = [];
    const consumer = async (entry: { sha256: string }, stream: Readable) => {
      const target = join(scratch, `out-${entry.sha256}`);
      await pipeline(stream, createWriteStream(target));
      written.push(entry.sha256); // "adopt" only after a clean end
    };
    await expect(read(b, { onBlob: consumer })).rejects.toThrow(BundleInvalidError);
    expect(written).not.toContain(victim);
    const problems: string[] = [];
    written.length = 0;
    await read(b, { onBlob: consumer, onProblem: (p) => problems.push(p) });
    expect(problems.some((p) => p.includes(`blob ${victim} has sha256`))).toBe(true);
    expect(written).toHaveLength(referenced.length - 1);
  });
});

describe("writing from a damaged pool", () => {
  it("refuses a pool blob whose bytes are not its name, suggesting pool verify", async () => {
    const plan = planExport(referenced, { format: "tar" });
    const dir = join(scratch, "from-bad-pool");
    execFileSync("mkdir", ["-p", dir]);
    const bad = referenced[2]!.sha256;
    const err = await writeBlobVolumes(store(bad), dir, plan, { mtime: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PoolBlobCorruptError);
    expect((err as Error).message).toMatch(new RegExp(`pool blob ${bad} \\(memory/${bad}\\) .*pool verify --deep`));
  });
});

describe("writing from a pool on the filesystem (headers and files placed straight into the volume's buffers)", () => {
  // Sizes around the tar block, the 1 MiB small-blob line and the 4 MiB buffer: several buffers and one member across them.
  const sizes = [0, 1, 511, 512, 513, 20_000, 1024 * 1024, 4 * 1024 * 1024 - 1024, 4 * 1024 * 1024 + 1, 9 * 1024 * 1024 + 3];
  const blobsData = sizes.map((n, i) => Buffer.alloc(n, i + 1).fill(i * 7 + 3, 0, Math.min(n, 5)));
  const refs = blobsData.map((d) => ({ sha256: createHash("sha256").update(d).digest("hex"), size: d.length }));

  async function pool(name: string): Promise<FilesystemBlobStore> {
    const root = join(scratch, name, "pool");
    const store = new FilesystemBlobStore(root, join(scratch, name, "tmp"));
    await store.ensureTempDir();
    for (const [i, r] of refs.entries()) {
      execFileSync("mkdir", ["-p", join(store.pathOf(r.sha256), "..")]);
      writeFileSync(store.pathOf(r.sha256), blobsData[i]!);
    }
    return store;
  }

  it.each([
    [undefined, "here"],
    [10 * 1024 * 1024, "here"],
    [undefined, "in a thread"],
    [10 * 1024 * 1024, "in a thread"],
  ] as const)("writes volumes that tar reads back byte for byte, with their sha256 (volume size %s, hashed %s)", async (volumeSize, hashed) => {
    const name = `fs-${volumeSize ?? 0}-${hashed.replaceAll(" ", "-")}`;
    const store = await pool(name);
    const dir = join(scratch, name, "bundle");
    execFileSync("mkdir", ["-p", dir]);
    const plan = planExport(refs, { format: "tar", ...(volumeSize ? { volumeSize } : {}) });
    const volumes = await writeBlobVolumes(store, dir, plan, { mtime: 1_700_000_000, threadedHashFrom: hashed === "here" ? Number.POSITIVE_INFINITY : 0 });
    expect(volumes.length).toBe(plan.volumeBytes.length);
    const out = join(scratch, name, "untar");
    execFileSync("mkdir", ["-p", out]);
    for (const v of volumes) {
      const bytes = readFileSync(join(dir, v.file));
      expect(bytes.length).toBe(v.size);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(v.sha256);
      // Every member's padding and the two end blocks are zeros (the buffers are reused, never left with old bytes).
      let at = 0;
      for (; bytes[at] !== 0; ) {
        const size = Number.parseInt(bytes.subarray(at + 124, at + 135).toString("latin1"), 8);
        const end = at + 512 + size;
        const next = at + 512 + Math.ceil(size / 512) * 512;
        expect(bytes.subarray(end, next).every((x) => x === 0)).toBe(true);
        at = next;
      }
      expect(bytes.length - at).toBe(1024);
      expect(bytes.subarray(at).every((x) => x === 0)).toBe(true);
      execFileSync("tar", ["xf", join(dir, v.file), "-C", out]);
    }
    for (const [i, r] of refs.entries()) expect(readFileSync(join(out, "blobs", r.sha256)).equals(blobsData[i]!), `blob of ${sizes[i]} bytes`).toBe(true);
    const listing = execFileSync("tar", ["tvf", join(dir, volumes[0]!.file)], { encoding: "utf8" });
    expect(listing).toMatch(/-rw-r--r-- root\/root/);
    // The bundle reader accepts what was written.
    const got: string[] = [];
    const manifest = { blobs: plan.included.map((b) => ({ sha256: b.sha256, size: b.size, volume: b.volume })), volumes } as unknown as Manifest;
    await readBlobs(dir, manifest, {
      onBlob: async (e, stream) => {
        for await (const _ of stream) void _;
        got.push(e.sha256);
      },
    });
    expect(got.sort()).toEqual(refs.map((r) => r.sha256).sort());
    // One byte of the last volume changed in place (a padding byte: every blob still matches): only the volume's hash can tell.
    const last = join(dir, volumes.at(-1)!.file);
    const bytes = readFileSync(last);
    bytes[bytes.length - 1] = 1;
    writeFileSync(last, bytes);
    const problems: string[] = [];
    await readBlobs(dir, manifest, { onProblem: (p) => problems.push(p) });
    expect(problems).toEqual([
      expect.stringMatching(
        new RegExp(`${volumes.at(-1)!.file}: volume ${volumes.length} has sha256 [0-9a-f]{64}, the manifest says ${volumes.at(-1)!.sha256}`),
      ),
    ]);
  });

  it.each([
    ["a small blob with other bytes", 5, (d: Buffer) => Buffer.from(d).fill(0xee, 0, 1), /has sha256/],
    ["a small blob shorter than the catalog says", 5, (d: Buffer) => d.subarray(1), /has only 19999 bytes/],
    ["a small blob longer than the catalog says", 5, (d: Buffer) => Buffer.concat([d, Buffer.from("+")]), /has more than/],
    ["a large blob with other bytes", 9, (d: Buffer) => Buffer.from(d).fill(0xee, d.length - 1), /has sha256/],
    ["a large blob shorter than the catalog says", 9, (d: Buffer) => d.subarray(0, d.length - 10), /has only/],
    ["a large blob longer than the catalog says", 9, (d: Buffer) => Buffer.concat([d, Buffer.from("+")]), /has more than/],
  ] as const)("refuses %s, naming the file and pool verify", async (what, index, damage, message) => {
    const name = `fs-bad-${what.replaceAll(" ", "-")}`;
    const store = await pool(name);
    const victim = refs[index]!;
    writeFileSync(store.pathOf(victim.sha256), damage(blobsData[index]!));
    const dir = join(scratch, name, "bundle");
    execFileSync("mkdir", ["-p", dir]);
    // Hashed in a thread, which the failure must end too (a thread left running would keep the test process alive).
    const err = await writeBlobVolumes(store, dir, planExport(refs, { format: "tar" }), { mtime: 0, threadedHashFrom: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PoolBlobCorruptError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(store.pathOf(victim.sha256));
    expect((err as Error).message).toContain("pool verify --deep");
  });
});
